"""The mart → provider lineage marts.dim_data_freshness is built from, and the freshness checks' verdicts.

The lineage is walked in Jinja over dbt's graph (macros/mart_lineage.sql); here it is recomputed
differently, from manifest.json's `parent_map`, and must agree for every mart, so a mart added or
re-wired later is covered without a hand list. The checks' verdicts come from rows written by hand.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetCheckSeverity, AssetKey

from revops.assets.freshness import FRESHNESS_MART, checked_marts, freshness_results
from revops.pipelines.runner import ensure_raw_tables
from tests.support import isolated_warehouse, run_dbt

PAIR = re.compile(r"\('(marts\.[a-z0-9_]+)', \[([^\]]*)\]\)")


def _manifest_lineage(manifest: dict) -> dict[str, list[str]]:
    """Per mart model, the provider sources upstream of it, by a walk over `parent_map`."""
    parents = manifest["parent_map"]
    lineage = {}
    for unique_id, node in manifest["nodes"].items():
        if (
            node["resource_type"] != "model"
            or node["fqn"][1] != "marts"
            or node["name"] == "dim_data_freshness"
        ):
            continue
        upstream, stack = set(), [unique_id]
        while stack:
            for parent in parents.get(stack.pop(), []):
                if parent not in upstream:
                    upstream.add(parent)
                    stack.append(parent)
        providers = {
            manifest["sources"][parent]["source_name"]
            for parent in upstream
            if parent.startswith("source.")
            and manifest["sources"][parent]["source_meta"].get("loaded_by") != "revops"
        }
        lineage[f"{node['schema']}.{node['alias'] or node['name']}"] = sorted(providers)
    return lineage


def test_the_freshness_lineage_is_every_marts_provider_sources(tmp_path: Path) -> None:
    with isolated_warehouse(tmp_path):
        run_dbt(tmp_path, "compile", "--select", "dim_data_freshness").assert_ok()
    target = tmp_path / "dbt_target"
    compiled = next(target.glob("compiled/revops/models/marts/workspaces/dim_data_freshness.sql")).read_text()
    built = {
        mart: sorted(provider.strip().strip("'") for provider in providers.split(",") if provider.strip())
        for mart, providers in PAIR.findall(compiled)
    }
    expected = _manifest_lineage(json.loads((target / "manifest.json").read_text()))
    assert built == expected
    # What the project has today: spot checks that the walk reaches through every layer.
    assert expected["marts.fct_invoice_reconciliation"] == ["quickbooks", "stripe", "xero"]
    assert expected["marts.fct_usage_by_billing_period"] == ["stripe", "usage"]
    assert expected["marts.dim_connections"] == []
    # The Dagster checks cover the marts the main dbt step builds, not the freshness mart itself.
    checked = {".".join(key.path) for key in checked_marts()}
    assert FRESHNESS_MART not in checked_marts() and checked <= set(expected)
    assert "marts.fct_mrr_daily" in checked and "marts.agg_usage_daily" not in checked


STALENESS_RULE_TEST = (
    "unit_test.revops.dim_data_freshness.dim_data_freshness_stale_by_failure_age_or_never_synced"
)


def test_the_staleness_rule_holds_on_hand_built_connections(tmp_path: Path) -> None:
    """The dbt unit test of the rule (models/marts/workspaces/_workspaces__unit_tests.yml) passes, run
    with the build of the model and what it reads."""
    with isolated_warehouse(tmp_path):
        ensure_raw_tables()
        run = run_dbt(tmp_path, "build", "--select", "+dim_data_freshness")
    statuses = {result["unique_id"]: result["status"] for result in run.results}
    assert statuses.get(STALENESS_RULE_TEST) == "pass", run.output
    assert run.returncode == 0, run.output


def test_a_freshness_check_fails_for_the_stale_workspace_only() -> None:
    synced = datetime(2026, 10, 15, 6, 0, tzinfo=UTC)
    mrr, aging = AssetKey(["marts", "fct_mrr_daily"]), AssetKey(["marts", "fct_ar_aging"])
    rows = [
        {
            "workspace_id": "globex",
            "mart": "marts.fct_mrr_daily",
            "data_as_of": synced,
            "is_stale": False,
            "stale_providers": [],
        },
        {
            "workspace_id": "acme",
            "mart": "marts.fct_mrr_daily",
            "data_as_of": synced.replace(day=14),
            "is_stale": True,
            "stale_providers": ["plaid"],
        },
        {
            "workspace_id": "acme",
            "mart": "marts.fct_ar_aging",
            "data_as_of": None,
            "is_stale": False,
            "stale_providers": [],
        },
    ]
    results = {result.asset_key: result for result in freshness_results([mrr, aging], rows)}
    assert not results[mrr].passed and results[mrr].severity == AssetCheckSeverity.WARN
    assert results[mrr].metadata["stale_workspaces"].value == ["acme"]
    assert results[mrr].metadata["stale_providers"].value == {"acme": ["plaid"]}
    assert results[mrr].metadata["data_as_of"].value == {
        "acme": "2026-10-14T06:00:00Z",
        "globex": "2026-10-15T06:00:00Z",
    }
    assert results[aging].passed and results[aging].metadata["data_as_of"].value == {"acme": None}
