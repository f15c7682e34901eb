"""The QuickBooks Online and Xero sources against the simulator: completeness, incrementality, OAuth2."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from dlt.extract.source import DltSource
from dlt.sources.helpers.rest_client import RESTClient

from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.core.workspaces import Workspace
from revops.pipelines.oauth import OAuth2RefreshTokenAuth
from revops.pipelines.quickbooks import QUICKBOOKS_TABLES, quickbooks_source_for
from revops.pipelines.quickbooks.settings import ENTITIES
from revops.pipelines.runner import WorkspaceLoad, load
from revops.pipelines.sources import source_named
from revops.pipelines.xero import XERO_TABLES, xero_source_for
from revops.pipelines.xero.settings import ENDPOINTS
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.registry import simulator_registry

SourceFor = Callable[[str, Any], DltSource]
# (source name, registry field, source factory, {raw table: (truth key, provider id field, id column)})
PROVIDERS: list[tuple[str, SourceFor, dict[str, tuple[str, str, str]]]] = [
    ("quickbooks", quickbooks_source_for, {e.table: (e.name, "Id", "id") for e in ENTITIES}),
    ("xero", xero_source_for, {e.table: (e.name, e.id_field, e.id_column) for e in ENDPOINTS}),
]


def _workspace(world: World, server: SimulatorServer, provider: str) -> Workspace:
    (workspace,) = simulator_registry(world, server).with_provider(provider)
    return workspace


def _load(world: World, server: SimulatorServer, provider: str, source_for: SourceFor) -> WorkspaceLoad:
    spec = replace(source_named(provider), build=source_for)
    return load(spec, _workspace(world, server, provider))


def _raw(table: str, id_column: str, workspace_id: str) -> dict[str, dict[str, Any]]:
    with connect() as client:
        rows = client.query(
            f"SELECT * FROM raw.{table} FINAL WHERE workspace_id = {{ws:String}}",
            parameters={"ws": workspace_id},
        ).named_results()
        return {row[id_column]: row for row in rows}


def _assert_matches_truth(world: World, provider: str, tables: dict[str, tuple[str, str, str]]) -> None:
    workspace_id = {"quickbooks": "acme", "xero": "globex"}[provider]
    truth = world.books_truth(workspace_id)
    assert truth is not None and truth.provider == provider
    for table, (key, id_field, id_column) in tables.items():
        expected = {obj[id_field]: obj for obj in truth.objects[key]}
        loaded = _raw(table, id_column, workspace_id)
        assert set(loaded) == set(expected), table
        for money in ("TotalAmt", "Total", "Amount"):
            for object_id, obj in expected.items():
                if money in obj:
                    column = {"TotalAmt": "total_amt", "Total": "total", "Amount": "amount"}[money]
                    assert loaded[object_id][column] == obj[money], (table, object_id)
                    assert isinstance(loaded[object_id][column], Decimal)


def test_table_names_are_exposed() -> None:
    assert tuple(e.table for e in ENTITIES) == QUICKBOOKS_TABLES
    assert tuple(e.table for e in ENDPOINTS) == XERO_TABLES
    assert all(t.startswith("qbo_") for t in QUICKBOOKS_TABLES)
    assert all(t.startswith("xero_") for t in XERO_TABLES)


@pytest.mark.parametrize(("provider", "source_for", "tables"), PROVIDERS, ids=["quickbooks", "xero"])
def test_full_then_incremental_load_matches_ground_truth(
    world: World,
    server: SimulatorServer,
    provider: str,
    source_for: SourceFor,
    tables: dict[str, tuple[str, str, str]],
) -> None:
    load = _load(world, server, provider, source_for)
    assert load.ok, load.error
    _assert_matches_truth(world, provider, tables)
    workspace_id = {"quickbooks": "acme", "xero": "globex"}[provider]
    before = world.books_truth(workspace_id)
    world.advance_to(world.now.date() + timedelta(days=5))
    after = world.books_truth(workspace_id)
    assert before is not None and after is not None
    load = _load(world, server, provider, source_for)
    assert load.ok, load.error
    _assert_matches_truth(world, provider, tables)
    # Only new and changed entities were fetched again (the cursors' boundary second is dropped by dlt).
    for table, (key, id_field, _) in tables.items():
        previous = {obj[id_field]: obj for obj in before.objects[key]}
        changed = [obj for obj in after.objects[key] if previous.get(obj[id_field]) != obj]
        assert load.rows_by_table.get(table, 0) == len(changed), table
    assert any(load.rows_by_table.values()), "five days of business changed nothing?"


def test_an_expired_access_token_is_renewed_once_and_the_request_replayed(
    world: World, server: SimulatorServer
) -> None:
    account = _workspace(world, server, "xero").account("xero")
    assert account is not None and account.client_secret is not None and account.refresh_token is not None
    # The server lets tokens live 0.5 s but announces a whole second, so the client cannot see it coming.
    server.faults = Faults(oauth_access_token_ttl_s=0.5)
    auth = OAuth2RefreshTokenAuth(
        token_url=account.token_url,
        client_id=account.client_id,
        client_secret=account.client_secret.get_secret_value(),
        refresh_token=account.refresh_token.get_secret_value(),
        provider="Xero",
        workspace_id="globex",
    )
    client = RESTClient(
        base_url=f"{account.api_base}/api.xro/2.0", auth=auth, headers={"Xero-tenant-id": account.tenant_id}
    )
    assert client.get("/Accounts").status_code == 200 and auth.refreshes == 1
    time.sleep(0.6)
    response = client.get("/Accounts")
    assert response.status_code == 200 and auth.refreshes == 2
    assert [earlier.status_code for earlier in response.history] == [401]


def test_loads_survive_expiring_tokens_and_keep_the_rotated_refresh_token(
    world: World, server: SimulatorServer
) -> None:
    server.faults = Faults(oauth_access_token_ttl_s=0.3, latency_ms=40)
    for provider, source_for, tables in PROVIDERS:
        load = _load(world, server, provider, source_for)
        assert load.ok, load.error
        _assert_matches_truth(world, provider, tables)
    refreshes = sum(count for (_, route), count in server.stats.requests.items() if "token" in route)
    assert refreshes > 2
    # The configured refresh token is spent; the next run must continue the chain from the token file.
    server.faults = Faults()
    for provider, source_for, _ in PROVIDERS:
        load = _load(world, server, provider, source_for)
        assert load.ok, load.error


def test_a_run_failing_after_a_refresh_keeps_the_rotated_refresh_token(
    world: World, server: SimulatorServer
) -> None:
    """The provider retires a refresh token as soon as it issues the next; a run that dies after
    that must not leave the next run holding only the retired one."""

    def crash(row: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the run dies after its first page")

    def crashing_source(workspace_id: str, account: Any) -> DltSource:
        source = quickbooks_source_for(workspace_id, account)
        for resource in source.resources.values():
            resource.add_map(crash)
        return source

    failed = _load(world, server, "quickbooks", crashing_source)
    assert not failed.ok and "dies after its first page" in (failed.error or "")
    loaded = _load(world, server, "quickbooks", quickbooks_source_for)
    assert loaded.ok, loaded.error
    _assert_matches_truth(world, "quickbooks", PROVIDERS[0][2])
    token_files = list((get_settings().home / "oauth").iterdir())
    assert [path.stat().st_mode & 0o777 for path in token_files] == [0o600]


def test_a_revoked_grant_fails_only_that_workspace(world: World, server: SimulatorServer) -> None:
    server.faults = Faults(oauth_revoked=frozenset({"acme"}))
    failed = _load(world, server, "quickbooks", quickbooks_source_for)
    assert not failed.ok and failed.error is not None
    assert "'acme'" in failed.error and "invalid_grant" in failed.error and "reconnect" in failed.error
    account = _workspace(world, server, "quickbooks").account("quickbooks")
    assert account is not None and account.refresh_token is not None
    assert account.refresh_token.get_secret_value() not in failed.error
    loaded = _load(world, server, "xero", xero_source_for)
    assert loaded.ok, loaded.error


def test_server_errors_and_rate_limits_are_retried(world: World, server: SimulatorServer) -> None:
    server.faults = Faults(error_rate=0.1, rate_limit_per_s=40, seed=3)
    for provider, source_for, tables in PROVIDERS:
        load = _load(world, server, provider, source_for)
        assert load.ok, load.error
        _assert_matches_truth(world, provider, tables)
    statuses = server.stats.statuses
    assert any(status >= 500 for (_, status) in statuses), statuses


def test_oauth_tokens_never_reach_the_warehouse(world: World, server: SimulatorServer) -> None:
    """The warehouse keeps only that a load happened: no state blob, no token."""
    for provider, source_for, _ in PROVIDERS:
        assert _load(world, server, provider, source_for).ok
    with connect() as client:
        states = client.query("SELECT pipeline_name, state FROM raw._dlt_pipeline_state").result_rows
    assert {name for name, _ in states} >= {"quickbooks_acme", "xero_globex"}
    assert all(state == "" for _, state in states)
