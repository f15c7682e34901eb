"""Per-connection sync status (`/v1/connections`): what each provider's last load did for the workspace."""

from revops.api.keys import Scope
from revops.api.queries import Filter, MartEndpoint
from revops.api.schemas import mart_row

Connection = mart_row("marts.dim_connections", "Connection")

ENDPOINTS = (
    MartEndpoint(
        path="/connections",
        table="marts.dim_connections",
        row=Connection,
        scope=Scope.connections,
        order_by=("provider",),
        summary="Sync status of each provider connection",
        description="One row per provider the workspace loads from: the last successful sync, the last "
        "attempt and its error, and whether the account must be reconnected (`needs_reauth`: a rejected "
        "Stripe key, a revoked QuickBooks or Xero grant, a bank login Plaid needs the user for).",
        filters=(
            Filter("provider", "provider", str, description="One provider (`stripe`, `plaid`, …)."),
            Filter(
                "needs_reauth", "needs_reauth", bool, description="Only connections that need reconnecting."
            ),
        ),
    ),
)
