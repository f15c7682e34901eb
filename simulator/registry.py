"""The demo's workspace registry: the simulated workspaces, pointed at a running simulator server."""

from __future__ import annotations

from typing import Any

from core import workspaces
from simulator.server import SimulatorServer
from simulator.world import SimWorkspace, World


def simulator_registry(world: World, server: SimulatorServer) -> workspaces.WorkspaceRegistry:
    return workspaces.WorkspaceRegistry(
        workspaces=[
            workspaces.Workspace(
                id=workspace.id,
                name=workspace.name,
                stripe=workspaces.StripeAccount(
                    api_base=server.stripe_base_url, api_key=workspace.stripe_api_key
                ),
                plaid=workspaces.PlaidAccount(
                    api_base=server.plaid_base_url,
                    client_id=workspace.plaid_client_id,
                    secret=workspace.plaid_secret,
                    access_tokens=[workspace.plaid_access_token],
                ),
                **_accounting(workspace, server),
            )
            for workspace in world.workspaces
        ]
    )


def _accounting(workspace: SimWorkspace, server: SimulatorServer) -> dict[str, Any]:
    """The workspace's QuickBooks or Xero connection, as `Workspace.quickbooks` / `Workspace.xero`."""
    connection = workspace.accounting
    if connection is None:
        return {}
    common = {
        "client_id": connection.client_id,
        "client_secret": connection.client_secret,
        "refresh_token": connection.refresh_token,
    }
    if connection.provider == "quickbooks":
        account = workspaces.QuickBooksAccount(
            api_base=server.quickbooks_base_url,
            token_url=server.quickbooks_base_url + "/oauth2/v1/tokens/bearer",
            realm_id=connection.company_id,
            **common,
        )
        return {"quickbooks": account}
    if connection.provider == "xero":
        account = workspaces.XeroAccount(
            api_base=server.xero_base_url,
            token_url=server.xero_base_url + "/connect/token",
            tenant_id=connection.company_id,
            **common,
        )
        return {"xero": account}
    return {}
