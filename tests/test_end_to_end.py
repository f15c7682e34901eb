"""The whole pipeline as users run it: `revops run` (Dagster job: dlt → ClickHouse → dbt), twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from dagster import Definitions

from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables, load
from revops.pipelines.sources import STRIPE
from revops_simulator import SimulatorServer, World
from tests.pipelines.conftest import AS_OF, SCALE, stripe_workspaces
from tests.support import isolated_warehouse, run_dbt

# Every staging model and its id column: the grain is (workspace_id, id column).
STAGING_KEYS = {
    "stg_stripe__customers": "customer_id",
    "stg_stripe__products": "product_id",
    "stg_stripe__prices": "price_id",
    "stg_stripe__subscriptions": "subscription_id",
    "stg_stripe__subscription_items": "subscription_item_id",
    "stg_stripe__invoices": "invoice_id",
    "stg_stripe__invoice_lines": "invoice_line_id",
    "stg_stripe__invoice_payments": "invoice_payment_id",
    "stg_stripe__charges": "charge_id",
    "stg_stripe__payment_intents": "payment_intent_id",
    "stg_stripe__refunds": "refund_id",
    "stg_stripe__disputes": "dispute_id",
    "stg_stripe__payouts": "payout_id",
    "stg_stripe__balance_transactions": "balance_transaction_id",
    "stg_stripe__events": "event_id",
    "stg_plaid__accounts": "account_id",
    "stg_plaid__transactions": "transaction_id",
}
STAGING_MODELS = list(STAGING_KEYS)


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


# `make run` simulates up to today at the default scale. A fixed day a year into the simulated
# history keeps this test deterministic, and the session warehouse's scale keeps it quick, while
# every object type exists in both workspaces (disputes are about 0.5% of charges).
DEMO_AS_OF = date(2026, 11, 1)
DEMO_SCALE = 0.25


def _env(home: Path) -> dict[str, str]:
    """`make run`'s environment, on a fixed simulator date and scale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVOPS_", "DAGSTER_HOME"))}
    return env | {
        "REVOPS_HOME": str(home),
        "REVOPS_SIM_AS_OF": DEMO_AS_OF.isoformat(),
        "REVOPS_SIM_SCALE": str(DEMO_SCALE),
    }


@contextmanager
def _warehouse_of(home: Path) -> Iterator[Client]:
    with isolated_warehouse(home), connect() as client:
        yield client


def _staging_counts(home: Path) -> dict[str, dict[str, int]]:
    with _warehouse_of(home) as client:
        return {
            model: dict(
                client.query(
                    f"SELECT workspace_id, count() FROM staging.{model} GROUP BY workspace_id"
                ).result_rows
            )
            for model in STAGING_MODELS
        }


def _duplicate_keys(home: Path) -> dict[str, int]:
    with _warehouse_of(home) as client:
        return {
            model: int(
                client.command(
                    f"SELECT count() - uniqExact(workspace_id, {STAGING_KEYS[model]}) FROM staging.{model}"
                )
            )
            for model in STAGING_MODELS
        }


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    completed = subprocess.run(
        [_tool("revops"), "run", "--demo"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert "succeeded" in completed.stdout
    return home


@pytest.mark.slow
def test_no_asset_check_fails(demo_home: Path) -> None:
    """The demo's data is consistent: every check of every run so far passes (dbt's tests, the
    quality suite, the freshness and sync checks), read back from the Dagster instance."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(demo_home / "dagster")))
    runs = instance.get_runs()
    assert runs
    failed = []
    for run in runs:
        evaluations = [
            record.dagster_event.event_specific_data
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
        assert evaluations, run.run_id
        failed += [
            f"{'/'.join(evaluation.asset_key.path)}: {evaluation.check_name}"
            for evaluation in evaluations
            if not evaluation.passed
        ]
    assert failed == []


@pytest.mark.slow
def test_every_staging_model_is_filled_for_both_workspaces(demo_home: Path) -> None:
    counts = _staging_counts(demo_home)
    for model in STAGING_MODELS:
        assert set(counts[model]) == {"acme", "globex"}, model
        assert all(count > 0 for count in counts[model].values()), model


@pytest.mark.slow
def test_staging_has_one_row_per_key(demo_home: Path) -> None:
    assert _duplicate_keys(demo_home) == dict.fromkeys(STAGING_MODELS, 0)


@pytest.mark.slow
def test_second_run_changes_no_counts(demo_home: Path) -> None:
    before = _staging_counts(demo_home)
    completed = subprocess.run(
        [_tool("revops"), "run", "--demo"],
        env=_env(demo_home),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert _staging_counts(demo_home) == before


@pytest.mark.slow
def test_materializations_carry_row_counts_schemas_groups_and_kpis(
    demo_home: Path, production_definitions: Definitions
) -> None:
    """What a user watches in the Dagster UI after `make run`, read back from the instance."""
    from dagster import AssetKey, DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(demo_home / "dagster")))
    (run,) = instance.get_runs(limit=1)
    materializations = {
        tuple(
            record.dagster_event.asset_key.path
        ): record.dagster_event.event_specific_data.materialization.metadata
        for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    }
    graph = production_definitions.resolve_asset_graph()
    with _warehouse_of(demo_home) as client:
        engines = dict(
            client.query(
                "SELECT concat(database, '.', name), engine FROM system.tables "
                "WHERE database IN ('staging', 'marts')"
            ).result_rows
        )
        for key, metadata in materializations.items():
            if key[0] not in ("staging", "marts") or f"{key[0]}.{key[1]}" not in engines:
                continue
            types = client.query(
                "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} "
                "ORDER BY position",
                parameters={"db": key[0], "t": key[1]},
            ).result_rows
            schema = metadata["dagster/column_schema"].value
            assert [(column.name, column.type) for column in schema.columns] == types, key
            if not engines[f"{key[0]}.{key[1]}"].endswith("View"):
                count = client.command(f"SELECT count() FROM {key[0]}.`{key[1]}`")
                assert metadata["dagster/row_count"].value == int(count), key
        latest_mrr = dict(
            client.query(
                "SELECT workspace_id, argMax(mrr, metric_date) FROM marts.fct_saas_metrics_daily "
                "GROUP BY workspace_id"
            ).result_rows
        )
    assert len([key for key in materializations if key[0] == "marts"]) >= 15
    daily = materializations["marts", "fct_saas_metrics_daily"]
    assert daily["acme: MRR (USD)"].value == pytest.approx(latest_mrr["acme"] / 100)
    assert daily["globex: MRR (GBP)"].value == pytest.approx(latest_mrr["globex"] / 100)
    assert isinstance(daily["acme: paying customers"].value, int)
    monthly = materializations["marts", "fct_saas_metrics_monthly"]
    assert (
        "| acme |" in monthly["this month's waterfall"].value and "acme: NRR (last complete month)" in monthly
    )
    assert "acme: recovery rate (30 days)" in materializations["marts", "fct_recovery_curves"]
    payouts = materializations["marts", "fct_payout_reconciliation"]
    assert payouts["acme: open reconciliation flags"].value > 0 and "acme: unexplained cash (USD)" in payouts
    assert "globex: open reconciliation flags" in materializations["marts", "fct_invoice_reconciliation"]
    assert graph.get(AssetKey(["marts", "fct_saas_metrics_daily"])).group_name == "metrics"
    assert graph.get(AssetKey(["staging", "stg_stripe__charges"])).group_name == "staging_stripe"
    assert graph.get(AssetKey(["marts", "fct_ledger_entries"])).owners == ["team:finance"]
    checks = {
        record.dagster_event.event_specific_data.check_name
        for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    }
    assert {"no_new_reconciliation_flags", "recovery_rate_above_floor", "mrr_drop_within_limit"} <= checks
    assert (demo_home / "reports" / "acme.html").exists() and (demo_home / "reports" / "globex.html").exists()


@pytest.mark.slow
def test_every_check_of_the_usage_job_reports_a_result(demo_home: Path) -> None:
    """Each asset check the usage job declares is evaluated by one of its runs: a check whose dbt test
    ran in another step (or not at all) would be declared, shown in the UI and never reported."""
    from dagster import DagsterEventType, DagsterInstance, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    from revops.assets.usage import USAGE_JOB_NAME, usage_daily_models, usage_period_models

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(demo_home / "dagster")))
    runs = instance.get_runs(filters=RunsFilter(job_name=USAGE_JOB_NAME))
    assert runs, "the demo runs the usage job"
    evaluated = {
        record.dagster_event.event_specific_data.asset_check_key
        for run in runs
        for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    }
    declared = {
        spec.key
        for job_assets in (usage_daily_models, usage_period_models)
        for spec in job_assets.check_specs
    }
    assert declared - evaluated == set()


KILLED_RUN_SEED = 11
KILLED_LOADER = textwrap.dedent(
    """
    import json, os, signal, sys
    import revops.pipelines.loading as loading
    from revops.core.workspaces import Workspace
    from revops.pipelines.runner import load
    from revops.pipelines.sources import STRIPE
    from revops.pipelines.stripe.settings import StripeAccount

    files_loaded = 0
    original = loading._load_file

    def load_then_die(*args, **kwargs):
        global files_loaded
        original(*args, **kwargs)
        files_loaded += 1
        if files_loaded == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

    loading._load_file = load_then_die
    for workspace in json.loads(sys.argv[1]):
        account = StripeAccount.model_validate(workspace.pop("stripe"))
        load(STRIPE, Workspace(**workspace, accounts={"stripe": account}))
    """
)


@pytest.fixture
def killed_then_rerun_home(revops_home: Path) -> Iterator[Path]:
    world = World(seed=KILLED_RUN_SEED, as_of=AS_OF, scale=SCALE)
    with SimulatorServer(world) as server:
        workspaces = stripe_workspaces(world, server)
        payload = json.dumps(
            [
                {
                    "id": sim.id,
                    "name": sim.name,
                    "stripe": {"api_base": server.stripe_base_url, "api_key": sim.stripe_api_key},
                }
                for sim in world.workspaces
            ]
        )
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_LOADER, payload, "5"],
            env=os.environ | {"REVOPS_HOME": str(revops_home)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert killed.returncode == -9, killed.stderr[-3000:]
        for workspace in workspaces:
            assert load(STRIPE, workspace).ok
        ensure_raw_tables()
        run_dbt(
            revops_home, "build", "--select", "staging", "--indirect-selection", "cautious", "--quiet"
        ).assert_ok()
        yield revops_home


@pytest.mark.slow
def test_kill_mid_load_then_rerun_duplicates_nothing(killed_then_rerun_home: Path) -> None:
    assert _duplicate_keys(killed_then_rerun_home) == dict.fromkeys(STAGING_MODELS, 0)
    counts = _staging_counts(killed_then_rerun_home)
    world = World(seed=KILLED_RUN_SEED, as_of=AS_OF, scale=SCALE)
    for workspace in world.workspaces:
        truth = world.ground_truth(workspace.id).objects
        for resource in (
            "customers",
            "subscriptions",
            "invoices",
            "charges",
            "payouts",
            "balance_transactions",
        ):
            assert counts[f"stg_stripe__{resource}"].get(workspace.id, 0) == len(truth[resource]), resource
