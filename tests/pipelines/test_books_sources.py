"""The QuickBooks Online and Xero sources against the simulator: completeness, incrementality, OAuth2."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
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
from revops_simulator.business.clock import to_date
from revops_simulator.registry import simulator_registry
from revops_simulator.xero import api as xero_api
from tests.pipelines.conftest import AS_OF, SCALE

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


NAMING = NamingConvention()
WORKSPACE = {"quickbooks": "acme", "xero": "globex"}


def _assert_matches_truth(
    world: World, provider: str, tables: dict[str, tuple[str, str, str]], deleted_seen: set[str] = frozenset()
) -> None:
    """Raw holds every live entity of the books with every top-level scalar as served (money exact),
    and, marked deleted, exactly the QuickBooks entities in `deleted_seen` ("<entity>:<id>")."""
    workspace_id = WORKSPACE[provider]
    truth = world.books_truth(workspace_id)
    assert truth is not None and truth.provider == provider
    for table, (key, id_field, id_column) in tables.items():
        expected = {obj[id_field]: obj for obj in truth.objects[key]}
        loaded = _raw(table, id_column, workspace_id)
        live = {object_id: row for object_id, row in loaded.items() if not row.get("is_deleted")}
        assert set(live) == set(expected), table
        assert {f"{key}:{object_id}" for object_id in set(loaded) - set(live)} == {
            name for name in deleted_seen if name.startswith(f"{key}:")
        }, table
        for object_id, obj in expected.items():
            row = live[object_id]
            for field, value in obj.items():
                if isinstance(value, str | bool | int | Decimal):
                    assert row[NAMING.normalize_identifier(field)] == value, (table, object_id, field)
            for money in ("TotalAmt", "Total", "Amount"):
                if money in obj:
                    assert isinstance(row[NAMING.normalize_identifier(money)], Decimal)


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
    workspace_id = WORKSPACE[provider]
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


def test_deletions_are_soft_deletes_seen_through_cdc_or_a_relisting(revops_home: Path) -> None:
    """QuickBooks reports a deletion only through CDC (30 days back); after a longer pause the source
    lists again and records as deleted the entities it knew that are gone. Xero keeps the record,
    DELETED (a draft) or VOIDED (an approved invoice, which Xero cannot delete)."""
    final = World(seed=7, as_of=AS_OF, scale=SCALE)
    deleted = {
        workspace_id: sorted(
            (i for i in final.books(workspace_id).invoices if i.deleted_at is not None),
            key=lambda i: i.deleted_at or 0,
        )
        for workspace_id in WORKSPACE.values()
    }
    first, second = deleted["acme"]
    # Seen live, then deleted: the next run is 3 days later (CDC); then seen live again, and the run
    # after the second deletion is more than 30 days later (a re-listing).
    days = [
        to_date(first.deleted_at or 0) - timedelta(days=2),
        to_date(first.deleted_at or 0) + timedelta(days=1),
        to_date(second.deleted_at or 0) - timedelta(days=2),
    ]
    days.append(days[-1] + timedelta(days=31))
    assert all(to_date(i.created) <= days[n] for n, i in ((0, first), (2, second)))
    world = World(seed=7, as_of=days[0], scale=SCALE)
    seen: set[str] = set()
    with SimulatorServer(world, faults=Faults()) as server:
        for day in days:
            world.advance_to(day)
            for provider, source_for, _ in PROVIDERS:
                load = _load(world, server, provider, source_for)
                assert load.ok, load.error
            seen |= {
                f"Invoice:{i.number}" for i in (first, second) if (i.deleted_at or 0) <= world.now.timestamp()
            }
            _assert_matches_truth(world, "quickbooks", PROVIDERS[0][2], seen)
            _assert_matches_truth(world, "xero", PROVIDERS[1][2])
    assert seen == {f"Invoice:{first.number}", f"Invoice:{second.number}"}
    # CDC served the runs within 30 days of the one before; the first and the last listed everything.
    within = sum(1 for before, after in itertools.pairwise(days) if (after - before).days <= 30)
    cdc = sum(
        count
        for (ws, route), count in server.stats.requests.items()
        if ws == "acme" and route.endswith("/cdc")
    )
    assert cdc == within * len(ENTITIES) + len(ENTITIES)  # the last run asked CDC first, and was refused
    gone = _raw("qbo_invoices", "id", "acme")
    assert [gone[str(i.number)]["status"] for i in (first, second)] == ["Deleted", "Deleted"]
    statuses = {
        row["invoice_number"]: row["status"] for row in _raw("xero_invoices", "invoice_id", "globex").values()
    }
    xero_deleted = [i for i in deleted["globex"] if (i.deleted_at or 0) <= world.now.timestamp()]
    assert xero_deleted and all(
        statuses[i.doc_number] == ("DELETED" if i.draft else "VOIDED") for i in xero_deleted
    )


def test_a_second_run_loads_nothing_new(world: World, server: SimulatorServer) -> None:
    for provider, source_for, tables in PROVIDERS:
        first = _load(world, server, provider, source_for)
        assert first.ok, first.error
        again = _load(world, server, provider, source_for)
        assert again.ok, again.error
        assert {table: rows for table, rows in again.rows_by_table.items() if rows} == {}, provider
        _assert_matches_truth(world, provider, tables)


def test_a_xero_record_without_its_cursor_field_is_loaded(
    world: World, server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = xero_api.render_books
    stripped: list[str] = []

    def without_updated_date(books: Any, company_id: str) -> dict[str, list[dict[str, Any]]]:
        rendered = render(books, company_id)
        first = rendered["Invoices"][0]
        stripped[:] = [first["InvoiceID"]]
        rendered["Invoices"][0] = {k: v for k, v in first.items() if k != "UpdatedDateUTC"}
        return rendered

    monkeypatch.setattr(xero_api, "render_books", without_updated_date)
    load = _load(world, server, "xero", xero_source_for)
    assert load.ok, load.error
    loaded = _raw("xero_invoices", "invoice_id", "globex")
    assert stripped and stripped[0] in loaded and loaded[stripped[0]]["updated_date_utc"] is None
    assert len(loaded) == len(world.books("globex").invoices)


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


def test_a_run_under_faults_gives_the_same_rows(world: World, server: SimulatorServer) -> None:
    """5xx, 429 with Retry-After and bodies cut short, on the APIs and the token endpoints alike."""
    server.faults = Faults(error_rate=0.15, rate_limit_per_s=10, truncate_rate=0.2, seed=3)
    for provider, source_for, tables in PROVIDERS:
        load = _load(world, server, provider, source_for)
        assert load.ok, load.error
        _assert_matches_truth(world, provider, tables)
    statuses = server.stats.statuses
    assert any(status >= 500 for (_, status) in statuses), statuses
    assert any(status == 429 for (_, status) in statuses), statuses
    assert server.stats.truncated > 0


def test_oauth_tokens_never_reach_the_warehouse(world: World, server: SimulatorServer) -> None:
    """The warehouse keeps only that a load happened: no state blob, no token."""
    for provider, source_for, _ in PROVIDERS:
        assert _load(world, server, provider, source_for).ok
    with connect() as client:
        states = client.query("SELECT pipeline_name, state FROM raw._dlt_pipeline_state").result_rows
    assert {name for name, _ in states} >= {"quickbooks_acme", "xero_globex"}
    assert all(state == "" for _, state in states)
