"""What the Dagster UI shows for the models, from the definitions alone: domain groups, owners, a
description on every check, the KPI alert checks and the report asset."""

from __future__ import annotations

from dagster import AssetKey, Definitions

from revops.assets.reporting import REPORT_KEY
from revops.assets.transformation import dbt_test_description

DOMAINS = {"accounting", "ledger", "reconciliation", "metrics", "recovery", "usage", "workspaces"}


def test_dbt_models_are_grouped_by_domain_and_staging_by_source(production_definitions: Definitions) -> None:
    graph = production_definitions.resolve_asset_graph()
    groups = {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}
    staging = {groups[key] for key in groups if key.path[0] == "staging" and key.path[-1].startswith("stg_")}
    assert staging == {
        "staging_stripe",
        "staging_plaid",
        "staging_quickbooks",
        "staging_xero",
        "staging_dunning",
        "staging_syncs",
        "staging_usage",
    }
    marts = {groups[key] for key in groups if key.path[0] == "marts"}
    assert marts <= DOMAINS and {"ledger", "reconciliation", "metrics", "recovery"} <= marts
    assert groups[AssetKey(["marts", "fct_saas_metrics_monthly"])] == "metrics"
    assert groups[AssetKey(["marts", "stripe_decline_codes"])] == "recovery"
    assert groups[AssetKey(["marts", "ledger_chart_of_accounts"])] == "ledger"
    owners = {key: graph.get(key).owners for key in groups if key.path[0] in ("staging", "marts")}
    assert all(owners.values()), [key for key, value in owners.items() if not value]


def test_every_check_has_a_description(production_definitions: Definitions) -> None:
    graph = production_definitions.resolve_asset_graph()
    specs = [spec for assets_def in graph.assets_defs for spec in assets_def.check_specs]
    assert len(specs) > 300
    assert [(spec.asset_key.to_user_string(), spec.name) for spec in specs if not spec.description] == []
    names = {spec.name for spec in specs}
    assert {"no_new_reconciliation_flags", "recovery_rate_above_floor", "mrr_drop_within_limit"} <= names


def test_generic_tests_say_what_they_prove() -> None:
    test = {
        "name": "accepted_values_x",
        "column_name": "outcome",
        "test_metadata": {
            "name": "accepted_values",
            "kwargs": {"arguments": {"values": ["recovered", "lost"]}},
        },
    }
    assert dbt_test_description(test) == "Fails for each row where outcome is not one of: recovered, lost."
    assert dbt_test_description({**test, "description": "Own words."}) == "Own words."


def test_the_report_is_an_asset_downstream_of_the_marts_it_reads(production_definitions: Definitions) -> None:
    graph = production_definitions.resolve_asset_graph()
    parents = graph.get(REPORT_KEY).parent_keys
    assert AssetKey(["marts", "fct_saas_metrics_daily"]) in parents
    assert AssetKey(["marts", "fct_recovery_curves"]) in parents
