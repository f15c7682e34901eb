"""`revops demo --days N`: N simulated days of failed payments and dunning, run one day at a time.

Each day the simulator's clock moves to 14:00 UTC (business hours for both workspaces) and revops' own
Dagster definitions run against the simulated providers: a job loading Stripe for every workspace,
syncing the dunning policies and building the recovery models (only those: `+marts.recovery`) at that
instant; then the `dunning_sensor` is evaluated and, when it asks for a run, the `dunning_actions` job
runs in process against the simulator, whose customers react to the emails and retries. The simulator
keeps every action in REVOPS_HOME, so each day's simulator (started afresh, as `revops run` does) sees
all of them.

The demo dunns with copies of the shipped policies made live, in force from the first demo day, with
a larger holdout so that treatment and holdout can be compared after a month (docs/recovery.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    RunRequest,
    RunsFilter,
    build_sensor_context,
    define_asset_job,
)
from rich.console import Console
from rich.table import Table

from revops.actions.log import run_statuses
from revops.assets.definitions import build_definitions
from revops.assets.dunning import DUNNING_JOB_NAME, DunningResource
from revops.assets.transformation import cautious_dbt_selection, dbt_build_run_config
from revops.cli.running import dagster_instance, execute_job, parse_dbt_project
from revops.core.settings import Settings
from revops_simulator.plugin import SimulatedProviders
from revops_simulator.settings import SimulatorSettings

DEMO_HOUR = 14
"""UTC hour the demo's days tick at: 09:00 in New York, 14:00 in London, outside quiet hours."""
DEMO_DAY_JOB = "demo_recovery_day"
RECOVERY_SELECTION = "+marts.recovery stripe_decline_codes"


@dataclass
class DemoDay:
    moment: datetime
    seconds: float
    actions: dict[str, int] = field(default_factory=dict)
    """(status) → items the dunning run decided, e.g. {"sent": 3, "deferred": 1}."""


def write_demo_policies(shipped: Path, target: Path, start: datetime, holdout_share: float) -> Path:
    """Live copies of the shipped policies, effective from `start`, as a new version each."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(shipped.glob("*.yaml")):
        policy: dict[str, Any] = yaml.safe_load(path.read_text())
        policy.update(
            version=f"{policy['version']}+demo.{start:%Y%m%d}",
            effective_from=start.isoformat(),
            live=True,
            holdout={**policy["holdout"], "share": holdout_share},
        )
        (target / path.name).write_text(
            "# Written by `revops demo` from " + str(path) + "\n" + yaml.safe_dump(policy, sort_keys=False)
        )
    return target


def demo_definitions(
    settings: Settings, simulator: SimulatorSettings, dunning: DunningResource, moment: datetime
) -> Definitions:
    """revops' Definitions on the simulator at `moment`, plus the demo's daily job: load Stripe, sync
    the dunning policies, build the recovery models."""
    providers = SimulatedProviders(
        home=str(settings.home), seed=simulator.seed, scale=simulator.scale, as_of=moment.isoformat()
    )
    day_job = define_asset_job(
        DEMO_DAY_JOB,
        selection=AssetSelection.groups("stripe_raw")
        | AssetSelection.assets(AssetKey(["raw", "dunning_policies"]))
        | cautious_dbt_selection(RECOVERY_SELECTION),
        description="The demo's day: load Stripe, sync dunning policies, build the recovery models.",
    )
    revops = build_definitions(settings, providers=providers, dunning=dunning)
    return Definitions.merge(revops, Definitions(jobs=[day_job]))


def _run_day(instance: DagsterInstance, defs: Definitions, moment: datetime) -> None:
    success, run_id = execute_job(
        instance, defs, DEMO_DAY_JOB, run_config=dbt_build_run_config(moment.strftime("%Y-%m-%d %H:%M:%S"))
    )
    if not success:
        raise RuntimeError(f"the demo's day job failed at {moment} (Dagster run {run_id})")


def _run_dunning(instance: DagsterInstance, defs: Definitions) -> dict[str, int]:
    """Evaluate the dunning sensor; run the job it asks for (once per run key), in process."""
    sensor = defs.resolve_sensor_def("dunning_sensor")
    request = sensor(build_sensor_context(instance=instance, definitions=defs))
    if not isinstance(request, RunRequest):
        return {}
    if instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": request.run_key or ""}), limit=1):
        return {}
    _, run_id = execute_job(
        instance, defs, DUNNING_JOB_NAME, tags={**request.tags, "dagster/run_key": request.run_key or ""}
    )
    return run_statuses(run_id)


def run_demo(
    console: Console,
    days: int,
    end: date,
    holdout_share: float,
    *,
    settings: Settings,
    simulator: SimulatorSettings,
) -> list[DemoDay]:
    import time

    start = datetime(end.year, end.month, end.day, DEMO_HOUR, tzinfo=UTC) - timedelta(days=days - 1)
    policies = write_demo_policies(
        settings.dunning_policies_dir, settings.home / "demo" / "policies", start, holdout_share
    )
    dunning = DunningResource(policies_dir=str(policies), kill_switch=settings.dunning_kill_switch)
    instance = dagster_instance(settings)
    parse_dbt_project()
    history = []
    for offset in range(days):
        moment = start + timedelta(days=offset)
        started = time.monotonic()
        defs = demo_definitions(settings, simulator, dunning, moment)
        _run_day(instance, defs, moment)
        actions = _run_dunning(instance, defs)
        day = DemoDay(moment, time.monotonic() - started, actions)
        history.append(day)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(actions.items())) or "nothing due"
        console.print(f"{moment:%Y-%m-%d %H:%M} dunning: {summary} ({day.seconds:.0f}s)")
    # The last day's actions reach the warehouse with one more load.
    last = start + timedelta(days=days - 1, hours=23 - DEMO_HOUR, minutes=59)
    _run_day(instance, demo_definitions(settings, simulator, dunning, last), last)
    return history


def print_demo_summary(console: Console) -> None:
    """Recovery by workspace and dunning cohort, and the uplift, from the marts the demo built."""
    from revops.core.warehouse import connect

    with connect() as client:
        cohorts = client.query(
            """
            SELECT workspace_id, dunning_cohort, count() AS episodes,
                   countIf(outcome = 'recovered') AS recovered, countIf(outcome = 'lost') AS lost,
                   countIf(outcome = 'open') AS still_open,
                   round(avgIf(days_to_recovery, outcome = 'recovered'), 1) AS mean_days
            FROM marts.fct_failed_payment_episodes
            WHERE dunning_cohort != 'not_enrolled'
            GROUP BY ALL ORDER BY ALL
            """
        ).result_rows
        uplift = client.query(
            """
            SELECT workspace_id, horizon_days, treatment_episodes, holdout_episodes,
                   treatment_recovery_rate, holdout_recovery_rate, uplift, uplift_ci_low, uplift_ci_high
            FROM marts.agg_recovery_uplift ORDER BY ALL
            """
        ).result_rows
    table = Table(
        "Workspace", "Cohort", "Episodes", "Recovered", "Lost", "Open", "Mean days", title="Recovery"
    )
    for row in cohorts:
        table.add_row(*(str(value) for value in row))
    console.print(table)
    table = Table(
        "Workspace",
        "Within days",
        "Treatment n",
        "Holdout n",
        "Treatment",
        "Holdout",
        "Uplift",
        "95% CI",
        title="Treatment minus holdout",
    )
    for ws, days, n_t, n_h, rate_t, rate_h, lift, low, high in uplift:

        def pct(value: float | None) -> str:
            return "-" if value is None or value != value else f"{100 * value:.0f}%"

        table.add_row(
            ws,
            str(days),
            str(n_t),
            str(n_h),
            pct(rate_t),
            pct(rate_h),
            pct(lift),
            f"{pct(low)} … {pct(high)}",
        )
    console.print(table)
