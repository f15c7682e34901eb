"""`revops run --workspace/--source` (issue 16): unknown names are one line naming the valid ones; a
source limits the run to its raw tables and what is built from them; a workspace limits each selected
ingestion step to it (its run configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, Definitions

from revops.assets.ingestion import raw_asset_key
from revops.cli.running import RunTargets, _selection_and_config, require_upstream_models, resolve_targets
from revops.core.settings import ConfigurationError
from revops.core.warehouse import connect
from revops.pipelines.sources import PLAID, STRIPE


def test_unknown_workspaces_and_sources_are_one_line_naming_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as unknown_workspace:
        resolve_targets(["acme", "globex"], ["plaid", "stripe"], ["acme", "initech"], [])
    assert str(unknown_workspace.value) == "unknown workspace 'initech'; workspaces: acme, globex"
    with pytest.raises(ConfigurationError) as unknown_source:
        resolve_targets(["acme"], ["plaid", "stripe"], [], ["strip"])
    assert str(unknown_source.value) == "unknown source 'strip'; sources: plaid, stripe"
    assert resolve_targets(["acme"], ["stripe"], ["acme", "acme"], ["stripe"]) == RunTargets(
        ("acme",), ("stripe",)
    )


def test_a_source_and_workspace_select_their_assets_and_configure_their_step(
    production_definitions: Definitions,
) -> None:
    selection, run_config = _selection_and_config(production_definitions, RunTargets(("acme",), ("stripe",)))
    assert selection is not None
    selected = set(selection)
    assert {raw_asset_key(table) for table in STRIPE.tables} <= selected
    assert AssetKey(["staging", "stg_stripe__charges"]) in selected
    assert not {raw_asset_key(table) for table in PLAID.tables} & selected
    assert AssetKey(["staging", "stg_plaid__transactions"]) not in selected
    assert run_config == {"ops": {"stripe_raw": {"config": {"workspaces": ["acme"]}}}}

    everything, no_config = _selection_and_config(production_definitions, RunTargets())
    assert everything is None and no_config == {}


def test_a_run_limited_to_a_source_on_a_warehouse_never_built_is_refused_in_one_line(
    production_definitions: Definitions, revops_home: Path
) -> None:
    """The models Stripe feeds also read other sources' models; on a fresh warehouse dbt would fail
    halfway, so the run is refused first; once every model exists (a full run built them) it goes on."""
    selection, _ = _selection_and_config(production_definitions, RunTargets(("acme",), ("stripe",)))
    assert selection is not None
    with pytest.raises(ConfigurationError, match=r"not built yet .*: run `revops run` once first$"):
        require_upstream_models(production_definitions, selection)

    graph = production_definitions.resolve_asset_graph()
    with connect() as client:
        for key in graph.materializable_asset_keys:
            if key.path[0] in ("staging", "marts"):
                client.command(f"CREATE DATABASE IF NOT EXISTS {key.path[0]}")
                client.command(
                    f"CREATE TABLE IF NOT EXISTS {key.path[0]}.{key.path[-1]} (x UInt8) ENGINE = Memory"
                )
    require_upstream_models(production_definitions, selection)
