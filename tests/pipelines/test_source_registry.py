"""The source registry is the one list of providers: every part of a source derives from it, and a test
fails when a declared source lacks one (folder, staging, dbt sources, simulator, quality, Dagster)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest
from dagster import DagsterInstance

from revops.assets.definitions import build_definitions
from revops.assets.ingestion import QUARANTINE_CHECK, SYNC_CHECK, raw_asset_key
from revops.assets.resources import ActionTargets, ProviderAccountsResource
from revops.core.paths import DBT_PROJECT_DIR, REPO_ROOT
from revops.core.settings import Settings
from revops.core.workspaces import Account, Workspace, WorkspaceRegistry
from revops.pipelines.loading import declare_contracts
from revops.pipelines.quarantine import QUARANTINE_TABLE
from revops.pipelines.runner import load
from revops.pipelines.sources import SOURCES, SourceSpec, account_models
from revops.quality.rules import RAW_TABLE_RULES, declared_rules
from revops_simulator.registry import SIMULATED_ACCOUNTS
from tests.support import query


def _dbt_sources() -> dict[str, set[str]]:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    tables: dict[str, set[str]] = {}
    for source in manifest["sources"].values():
        tables.setdefault(source["source_name"], set()).add(source["identifier"])
    return tables


@pytest.mark.parametrize("source", SOURCES, ids=[source.name for source in SOURCES])
def test_every_declared_source_has_all_its_parts(source: SourceSpec) -> None:
    assert (REPO_ROOT / "src" / "revops" / "pipelines" / source.name / "__init__.py").exists()
    assert source.tables, f"{source.name} declares no raw table"
    # Its dbt staging folder declares exactly the raw tables the source lands, as the dbt source `name`.
    assert (DBT_PROJECT_DIR / "models" / "staging" / source.name).is_dir()
    assert _dbt_sources().get(source.name) == set(source.tables)
    # The registry section, the quality rules and the simulator's account for it.
    assert account_models()[source.name] is source.account
    assert set(source.tables) <= set(RAW_TABLE_RULES)
    assert source.name in SIMULATED_ACCOUNTS, f"the simulator has no {source.name} account"


def test_sources_have_distinct_names_and_tables() -> None:
    names = [source.name for source in SOURCES]
    tables = [table for source in SOURCES for table in source.tables]
    assert len(set(names)) == len(names) and len(set(tables)) == len(tables)


# A provider added here, through the registry alone: its folder would hold this dlt source and account.
class CrmAccount(Account):
    accounts_url: str


CRM_TABLE = "crm_accounts"


def _declare_crm(schema: dlt.Schema) -> None:
    declare_contracts(
        schema, {CRM_TABLE: ({"id": "text", "name": "text", "arr_amount": "bigint"}, ("workspace_id", "id"))}
    )


def _crm_source(workspace_id: str, account: CrmAccount) -> Any:
    @dlt.source(name="crm", max_table_nesting=0)
    def crm() -> Iterable[Any]:
        _declare_crm(dlt.current.source_schema())
        synced_at = datetime.now(UTC)

        @dlt.resource(name=CRM_TABLE, primary_key=("workspace_id", "id"), write_disposition="merge")
        def accounts() -> Iterator[dict[str, Any]]:
            for number in range(3):
                yield {
                    "id": f"crm_{number}",
                    "name": f"Account {number} of {account.accounts_url}",
                    "arr_amount": 1200_00 * (number + 1),
                    "workspace_id": workspace_id,
                    "_revops_synced_at": synced_at,
                }

        return [accounts]

    return crm()


CRM = SourceSpec(
    name="crm",
    account=CrmAccount,
    build=_crm_source,
    declare_tables=_declare_crm,
    rewind=lambda resources, since: None,  # the CRM is listed whole on every run: no cursor
    cron_schedule="0 4 * * *",
    warn_after=timedelta(hours=26),
    fail_after=timedelta(hours=50),
    minor_units=True,
)


class InCodeProviders(ProviderAccountsResource):
    """A registry given as JSON (Dagster resource config must be plain values)."""

    registry_json: str

    @classmethod
    def from_settings(cls, settings: Settings) -> InCodeProviders:
        raise NotImplementedError

    @contextmanager
    def open_registry(self) -> Iterator[WorkspaceRegistry]:
        registry = json.loads(self.registry_json)
        yield WorkspaceRegistry(
            workspaces=[
                Workspace(id=w["id"], name=w["name"], accounts={"crm": CrmAccount(**w["crm"])})
                for w in registry
            ]
        )

    @contextmanager
    def open_for_actions(self) -> Iterator[ActionTargets]:
        with self.open_registry() as registry:
            yield ActionTargets(registry, None, self.now())

    def now(self) -> datetime:
        return datetime.now(UTC)


def test_a_source_added_through_the_registry_gets_its_loader_assets_and_quality_suite(
    revops_home: Path,
) -> None:
    sources = (*SOURCES, CRM)
    registry = [{"id": "acme", "name": "Acme", "crm": {"accounts_url": "https://crm.example/acme"}}]
    providers = InCodeProviders(registry_json=json.dumps(registry))
    defs = build_definitions(Settings(), providers=providers, sources=sources)

    # Dagster: an asset per raw table with its expectations check, a job and a schedule.
    key = raw_asset_key(CRM_TABLE)
    assert key in defs.resolve_asset_graph().materializable_asset_keys
    assert any(
        check.asset_key == key and check.name == "expectations"
        for check in defs.resolve_asset_graph().asset_check_keys
    )
    assert defs.resolve_schedule_def("load_crm_schedule").job_name == "load_crm"
    # Quality rules from its contract; the loader through the runner.
    rules = declared_rules([CRM])[CRM_TABLE]
    assert (rules.key, rules.money_columns, rules.minor_units) == ("id", ("arr_amount",), True)
    with providers.open_registry() as opened:
        assert load(CRM, opened.workspaces[0]).ok

    # Its job loads it and validates it in the same step.
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("load_crm").execute_in_process(instance=instance)
    assert result.success
    assert {m.asset_key for m in result.asset_materializations_for_node("crm_raw")} == {key}
    # Its table's checks, and the quarantine's, which every loading job runs: nothing is quarantined.
    # (The job also rebuilds the marts' freshness, with that model's own dbt tests.)
    evaluations = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key in (key, raw_asset_key(QUARANTINE_TABLE))
    }
    assert set(evaluations) == {"expectations", SYNC_CHECK, QUARANTINE_CHECK}
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert evaluations[QUARANTINE_CHECK].asset_key == raw_asset_key(QUARANTINE_TABLE)
    assert all(e.asset_key == key for name, e in evaluations.items() if name != QUARANTINE_CHECK)
    evaluation = evaluations["expectations"]
    assert evaluation.metadata["rows_validated"].value == 3
    rows = query(f"SELECT id, arr_amount FROM raw.{CRM_TABLE} FINAL ORDER BY id")
    assert rows == [{"id": f"crm_{n}", "arr_amount": 1200_00 * (n + 1)} for n in range(3)]
