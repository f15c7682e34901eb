"""The demo's workspace registry: the simulated workspaces, pointed at a running simulator server.

One account builder per source of revops' source registry (`revops.pipelines.sources.SOURCES`);
tests/pipelines/test_source_registry.py fails when a source has none here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from revops.core.settings import get_settings
from revops.core.workspaces import Account, Workspace, WorkspaceRegistry
from revops.pipelines.plaid.settings import PlaidAccount
from revops.pipelines.quickbooks.settings import QuickBooksAccount
from revops.pipelines.stripe.settings import StripeAccount
from revops.pipelines.usage.settings import UsageAccount
from revops.pipelines.xero.settings import XeroAccount
from revops_simulator.server import SimulatorServer
from revops_simulator.usage.drops import DropFormat, write_drops
from revops_simulator.world import SimWorkspace, World

USAGE_DROPS: dict[str, DropFormat] = {"globex": "parquet"}
"""Workspaces whose usage arrives as daily file drops (format), written under REVOPS_HOME; the others
read the HTTP feed."""


def _stripe(world: World, workspace: SimWorkspace, server: SimulatorServer, home: Path) -> Account:
    return StripeAccount(api_base=server.stripe_base_url, api_key=workspace.stripe_api_key)


def _plaid(world: World, workspace: SimWorkspace, server: SimulatorServer, home: Path) -> Account:
    return PlaidAccount(
        api_base=server.plaid_base_url,
        client_id=workspace.plaid_client_id,
        secret=workspace.plaid_secret,
        access_tokens=[workspace.plaid_access_token],
    )


def _oauth_secrets(workspace: SimWorkspace) -> dict[str, str]:
    connection = workspace.accounting
    assert connection is not None
    return {
        "client_id": connection.client_id,
        "client_secret": connection.client_secret,
        "refresh_token": connection.refresh_token,
    }


def _quickbooks(world: World, workspace: SimWorkspace, server: SimulatorServer, home: Path) -> Account | None:
    if workspace.accounting is None or workspace.accounting.provider != "quickbooks":
        return None
    return QuickBooksAccount(
        api_base=server.quickbooks_base_url,
        token_url=server.quickbooks_base_url + "/oauth2/v1/tokens/bearer",
        realm_id=workspace.accounting.company_id,
        **_oauth_secrets(workspace),
    )


def _xero(world: World, workspace: SimWorkspace, server: SimulatorServer, home: Path) -> Account | None:
    if workspace.accounting is None or workspace.accounting.provider != "xero":
        return None
    return XeroAccount(
        api_base=server.xero_base_url,
        token_url=server.xero_base_url + "/connect/token",
        tenant_id=workspace.accounting.company_id,
        **_oauth_secrets(workspace),
    )


def _usage(world: World, workspace: SimWorkspace, server: SimulatorServer, home: Path) -> Account:
    """The workspace's usage events: the feed, or the file drops complete by the clock (written now)."""
    fmt = USAGE_DROPS.get(workspace.id)
    if fmt is None:
        return UsageAccount(feed_url=server.usage_base_url, api_key=workspace.usage_api_key)
    directory = home / "usage-drops" / workspace.id
    write_drops(world.usage_log(workspace.id), directory, fmt)
    return UsageAccount(drop_dir=directory)


AccountBuilder = Callable[[World, SimWorkspace, SimulatorServer, Path], Account | None]
SIMULATED_ACCOUNTS: dict[str, AccountBuilder] = {
    "stripe": _stripe,
    "plaid": _plaid,
    "quickbooks": _quickbooks,
    "xero": _xero,
    "usage": _usage,
}
"""Source name → the account a simulated workspace has for it (None: that workspace has none)."""


def simulator_registry(world: World, server: SimulatorServer, home: Path | None = None) -> WorkspaceRegistry:
    """The simulated workspaces with every account they have, served by `server`; file drops are written
    under `home` (default: REVOPS_HOME)."""
    home = home or get_settings().home
    workspaces = []
    for workspace in world.workspaces:
        accounts = {
            source: account
            for source, build in SIMULATED_ACCOUNTS.items()
            if (account := build(world, workspace, server, home)) is not None
        }
        workspaces.append(Workspace(id=workspace.id, name=workspace.name, accounts=accounts))
    return WorkspaceRegistry(workspaces=workspaces)
