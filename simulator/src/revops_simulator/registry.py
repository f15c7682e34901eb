"""The demo's workspace registry: the simulated workspaces, pointed at a running simulator server."""

from __future__ import annotations

from typing import Any

from revops.core import workspaces
from revops.core.settings import get_settings
from revops_simulator.server import SimulatorServer
from revops_simulator.usage.drops import DropFormat, write_drops
from revops_simulator.world import SimWorkspace, World


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
                usage=_usage(world, workspace, server),
                **_accounting(workspace, server),
            )
            for workspace in world.workspaces
        ]
    )


USAGE_DROPS: dict[str, DropFormat] = {"globex": "parquet"}
"""Workspaces whose usage arrives as daily file drops (format), written under REVOPS_HOME; the others
read the HTTP feed."""


def _usage(world: World, workspace: SimWorkspace, server: SimulatorServer) -> workspaces.UsageAccount:
    """The workspace's usage events: the feed, or the file drops complete by the clock (written now)."""
    fmt = USAGE_DROPS.get(workspace.id)
    if fmt is None:
        return workspaces.UsageAccount(feed_url=server.usage_base_url, api_key=workspace.usage_api_key)
    directory = get_settings().home / "usage-drops" / workspace.id
    write_drops(world.usage_log(workspace.id), directory, fmt)
    return workspaces.UsageAccount(drop_dir=directory)


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
