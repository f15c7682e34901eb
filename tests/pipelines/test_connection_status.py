"""Issue 16's acceptance: a revoked grant, a bad Stripe key and ITEM_LOGIN_REQUIRED each show
`needs_reauth` for that connection only, in the warehouse (marts.dim_connections), `revops status`, the
API (`/v1/connections`) and Dagster (the ingestion assets' materialization metadata).

Both simulated workspaces load every source through the real ingestion assets, in process; only acme's
Stripe key is rolled, its QuickBooks grant revoked and its bank login broken (simulator faults). What the
test expects follows from those faults alone: acme's stripe, plaid and quickbooks connections need
reauthentication; acme's usage and every globex connection loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from dagster import ExecuteInProcessResult, materialize
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from revops.api.keys import Scope
from revops.api.main import create_app
from revops.assets.ingestion import SYNC_CHECK, raw_asset_key, source_assets
from revops.assets.resources import ActionTargets, ProviderAccountsResource
from revops.cli.main import app
from revops.core.settings import Settings
from revops.core.warehouse import DATABASES
from revops.core.workspaces import WorkspaceRegistry
from revops.pipelines.sources import SOURCES
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.registry import simulator_registry
from tests.api.conftest import memory_keys
from tests.support import query, run_dbt

ACME_FAULTS = Faults(
    stripe_keys_rolled=frozenset({"acme"}),
    oauth_revoked=frozenset({"acme"}),
    plaid_login_required=frozenset({"acme"}),
)
BROKEN = {("acme", "stripe"), ("acme", "plaid"), ("acme", "quickbooks")}
"""The connections the faults break: each needs the account reconnected."""
CONNECTIONS = BROKEN | {("acme", "usage")} | {("globex", p) for p in ("stripe", "plaid", "xero", "usage")}
"""Every (workspace, provider) the simulated world has: acme keeps books in QuickBooks, globex in Xero."""
ERROR_CAUSE = {"stripe": "API key", "plaid": "ITEM_LOGIN_REQUIRED", "quickbooks": "invalid_grant"}


class ServedRegistry(ProviderAccountsResource):
    """The test's simulator (and its faults) as the assets' providers."""

    registry: ClassVar[WorkspaceRegistry]

    @classmethod
    def from_settings(cls, settings: Settings) -> ServedRegistry:
        return cls()

    @contextmanager
    def open_registry(self) -> Iterator[WorkspaceRegistry]:
        yield self.registry

    @contextmanager
    def open_for_actions(self) -> Iterator[ActionTargets]:
        raise NotImplementedError("no dunning in this test")
        yield

    def now(self) -> datetime:
        raise NotImplementedError("no clock in this test")


def _ingest(world: World, server: SimulatorServer, source_names: set[str]) -> ExecuteInProcessResult:
    ServedRegistry.registry = simulator_registry(world, server)
    return materialize(
        [source_assets(source) for source in SOURCES if source.name in source_names],
        resources={"providers": ServedRegistry()},
        raise_on_error=False,
    )


def _mart() -> dict[tuple[str, str], dict[str, Any]]:
    rows = query("SELECT * FROM marts.dim_connections")
    return {(row["workspace_id"], row["provider"]): row for row in rows}


def _needs_reauth(rows: dict[tuple[str, str], dict[str, Any]]) -> set[tuple[str, str]]:
    return {connection for connection, row in rows.items() if row["needs_reauth"]}


def _dagster_metadata(result: ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Per source step: the connection metadata on its materializations (the same on each table)."""
    by_source: dict[str, dict[str, Any]] = {}
    for source in SOURCES:
        materializations = result.asset_materializations_for_node(f"{source.name}_raw")
        if not materializations:
            continue
        values = [
            {name: m.metadata[name].value for name in ("needs_reauth", "connection_status")}
            for m in materializations
        ]
        assert all(value == values[0] for value in values), source.name
        by_source[source.name] = values[0]
    return by_source


def _status_connections(output: str) -> dict[tuple[str, str], list[str]]:
    """The Connections section of piped `revops status`: (workspace, provider) → its cells."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Connections"))
    header, *rows = lines[start + 1 :]
    assert header.split()[:3] == ["Workspace", "Provider", "State"]
    rows = rows[: rows.index("")] if "" in rows else rows  # the section ends at the blank line
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    return {(row[0], row[1]): row for row in cells}


def test_reauth_shows_for_the_broken_connections_only(
    world: World, server: SimulatorServer, revops_home: Path
) -> None:
    server.faults = ACME_FAULTS
    first = _ingest(world, server, {source.name for source in SOURCES})
    # Three of acme's loads failed: their sources' sync checks fail, not the run.
    assert first.success
    checks = first.get_asset_check_evaluations()
    synced = {e.asset_key: e.passed for e in checks if e.check_name == SYNC_CHECK}
    for source in SOURCES:
        broken = ("acme", source.name) in BROKEN
        assert all(synced[raw_asset_key(table)] is not broken for table in source.tables), source.name

    # Dagster: each source step's materializations name the workspaces that must reconnect.
    metadata = _dagster_metadata(first)
    assert set(metadata) == {source.name for source in SOURCES}
    for provider, values in metadata.items():
        expected = ["acme"] if ("acme", provider) in BROKEN else []
        assert values["needs_reauth"] == expected, provider
        for workspace_id, status in values["connection_status"].items():
            broken = (workspace_id, provider) in BROKEN
            assert (status["succeeded"], status["needs_reauth"]) == (not broken, broken)
            assert (status["error"] is None) == (not broken)
            assert broken or status["rows_loaded"] > 0, (workspace_id, provider)

    # Before dbt has built the mart (on a first run), `revops status` reads the load log itself.
    early = CliRunner().invoke(app, ["status"])
    assert early.exit_code == 0 and "Connections (from raw.sync_attempts)" in early.output, early.output
    flagged = {
        connection for connection, cells in _status_connections(early.output).items() if "REAUTH" in cells[2]
    }
    assert flagged == BROKEN

    # The warehouse: one row per connection; only the broken ones need reauth, each with its cause.
    run_dbt(revops_home, "build", "--select", "+dim_connections").assert_ok()
    mart = _mart()
    assert set(mart) == CONNECTIONS
    assert _needs_reauth(mart) == BROKEN
    for (workspace_id, provider), row in mart.items():
        if (workspace_id, provider) in BROKEN:
            assert ERROR_CAUSE[provider] in row["last_error"] and repr(workspace_id) in row["last_error"]
            assert (row["last_success_at"], row["last_success_rows_loaded"]) == (None, None)
            assert (row["last_attempt_succeeded"], row["consecutive_failures"]) == (False, 1)
        else:
            assert (row["last_error"], row["last_attempt_succeeded"], row["consecutive_failures"]) == (
                None,
                True,
                0,
            )
            assert row["last_success_at"] == row["last_attempt_at"]
            assert row["last_success_rows_loaded"] > 0

    # `revops status`, piped: plain text, the broken connections flagged, nobody else.
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.output and "━" not in result.output
    tables = [line.split()[:2] for line in result.output.split("\n\n")[0].splitlines()[2:]]
    # Views too, and in pipeline order: raw, staging, marts, each sorted by name.
    assert ["marts.dim_connections", "View"] in tables and ["staging.stg_syncs__attempts", "View"] in tables
    names = [name for name, _ in tables]
    assert names == sorted(names, key=lambda name: (DATABASES.index(name.split(".")[0]), name))
    listed = _status_connections(result.output)
    assert set(listed) == CONNECTIONS
    assert {connection for connection, cells in listed.items() if cells[2] == "NEEDS REAUTH"} == BROKEN
    for connection in BROKEN:
        assert ERROR_CAUSE[connection[1]] in listed[connection][-1]

    # The API: each key sees its own workspace's connections; globex none of acme's.
    secrets, lookup = memory_keys(("acme", Scope.connections), ("globex", Scope.connections))
    with TestClient(create_app(Settings(), key_lookup=lookup)) as api:

        def connections(workspace_id: str, **params: str) -> set[tuple[str, str, bool]]:
            key = secrets[f"{workspace_id}:{Scope.connections.value}"]
            page = api.get("/v1/connections", params=params, headers={"Authorization": f"Bearer {key}"})
            assert page.status_code == 200, page.text
            rows = page.json()["data"]
            return {(row["workspace_id"], row["provider"], row["needs_reauth"]) for row in rows}

        for workspace_id in ("acme", "globex"):
            expected = {(ws, p, (ws, p) in BROKEN) for ws, p in CONNECTIONS if ws == workspace_id}
            assert connections(workspace_id) == expected
        assert connections("globex", needs_reauth="true") == set()
        assert connections("acme", needs_reauth="true") == {(ws, p, True) for ws, p in BROKEN}

    # The user rolls acme's new Stripe key in: the next load clears that connection, without a dbt
    # build (the mart is a view), and the two still broken count a second failure.
    server.faults = Faults(
        oauth_revoked=ACME_FAULTS.oauth_revoked, plaid_login_required=ACME_FAULTS.plaid_login_required
    )
    second = _ingest(world, server, {"stripe", "plaid", "quickbooks"})
    assert _dagster_metadata(second)["stripe"]["needs_reauth"] == []
    mart = _mart()
    assert _needs_reauth(mart) == BROKEN - {("acme", "stripe")}
    stripe = mart["acme", "stripe"]
    assert (stripe["last_error"], stripe["consecutive_failures"], stripe["attempts"]) == (None, 0, 2)
    assert stripe["last_success_rows_loaded"] > 0
    assert [mart["acme", p]["consecutive_failures"] for p in ("plaid", "quickbooks")] == [2, 2]
    assert mart["globex", "stripe"]["attempts"] == 2 and not mart["globex", "stripe"]["needs_reauth"]
