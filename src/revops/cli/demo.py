"""`revops demo --days N`: N simulated days of failed payments and dunning, run one day at a time.

Each day the simulator's clock moves to 14:00 UTC (business hours for both workspaces), Stripe is
loaded for every workspace, the recovery models are rebuilt (only them: `+marts.recovery`), and the
dunning sensor is evaluated; when it asks for a run, the `dunning_actions` job runs in process against
the simulator, whose customers react to the emails and retries. The simulator keeps every action in
REVOPS_HOME, so each day's simulator (started afresh, as `revops run` does) sees all of them.

The demo dunns with copies of the shipped policies made live, in force from the first demo day, with
a larger holdout so that treatment and holdout can be compared after a month (docs/recovery.md).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from revops.core.dbt import run_in_child
from revops.core.settings import get_settings

DEMO_HOUR = 14
"""UTC hour the demo's days tick at: 09:00 in New York, 14:00 in London, outside quiet hours."""
RECOVERY_SELECTION = ("+marts.recovery", "stripe_decline_codes")


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


def _set_env(name: str, value: str) -> None:
    os.environ[name] = value
    get_settings.cache_clear()


def _build_recovery_models(moment: datetime) -> None:
    as_of = f"{{recovery_as_of: '{moment:%Y-%m-%d %H:%M:%S}'}}"
    selection = ("--select", *RECOVERY_SELECTION, "--indirect-selection", "cautious")
    completed = run_in_child("build", *selection, "--vars", as_of, "--quiet")
    if completed.returncode != 0:
        raise RuntimeError(
            f"dbt build of the recovery models failed:\n{completed.stdout}\n{completed.stderr}"
        )


def _load_stripe(moment: datetime) -> None:
    from revops.assets.resources import ProviderAccountsResource
    from revops.pipelines.runner import load_stripe

    settings = get_settings()
    providers = ProviderAccountsResource(
        sim_seed=settings.sim_seed, sim_scale=settings.sim_scale, sim_as_of=moment.isoformat()
    )
    with providers.open_registry() as registry:
        for workspace in registry.with_provider("stripe"):
            load = load_stripe(workspace)
            if not load.ok:
                raise RuntimeError(f"loading Stripe failed: {load.error}")


def _sync_policies() -> None:
    from revops.actions.log import sync_policies
    from revops.actions.policy import load_policies
    from revops.pipelines.runner import ensure_raw_tables

    ensure_raw_tables()
    sync_policies(load_policies(get_settings().dunning_policies_dir).values())


def _run_dunning(instance: Any, moment: datetime) -> dict[str, int]:
    """Evaluate the sensor; run the job it asks for (once per run key), in process."""
    from dagster import RunRequest, RunsFilter, build_sensor_context

    from revops.actions.log import run_statuses
    from revops.assets.dunning import DunningResource, dunning_actions_job, dunning_sensor
    from revops.assets.resources import ProviderAccountsResource

    settings = get_settings()
    request = dunning_sensor(build_sensor_context(instance=instance))
    if not isinstance(request, RunRequest):
        return {}
    if instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": request.run_key}), limit=1):
        return {}
    result = dunning_actions_job.execute_in_process(
        instance=instance,
        # The day's summary line replaces Dagster's debug log; errors still surface.
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        tags={**request.tags, "dagster/run_key": request.run_key or ""},
        resources={
            "dunning": DunningResource(
                policies_dir=str(settings.dunning_policies_dir), kill_switch=settings.dunning_kill_switch
            ),
            "providers": ProviderAccountsResource(
                sim_seed=settings.sim_seed, sim_scale=settings.sim_scale, sim_as_of=moment.isoformat()
            ),
        },
    )
    return run_statuses(result.run_id)


def run_demo(console: Console, days: int, end: date, holdout_share: float) -> list[DemoDay]:
    from revops.cli.running import parse_dbt_project, prepare_dagster_home

    settings = get_settings()
    start = datetime(end.year, end.month, end.day, DEMO_HOUR, tzinfo=UTC) - timedelta(days=days - 1)
    policies = write_demo_policies(
        settings.dunning_policies_dir, settings.home / "demo" / "policies", start, holdout_share
    )
    _set_env("REVOPS_DUNNING_POLICIES_DIR", str(policies))
    if get_settings().dunning_link_secret is None:
        # Card-update links need a signing key; the demo makes one (a real install sets its own).
        _set_env("REVOPS_DUNNING_LINK_SECRET", secrets.token_urlsafe(32))
    prepare_dagster_home()
    parse_dbt_project()
    from dagster import AssetMaterialization, DagsterInstance

    from revops.assets.dunning import QUEUE_KEY

    instance = DagsterInstance.get()
    history = []
    for offset in range(days):
        moment = start + timedelta(days=offset)
        started = time.monotonic()
        _load_stripe(moment)
        _sync_policies()
        _build_recovery_models(moment)
        # Built outside Dagster: tell the instance, so the sensor sees a new queue snapshot.
        instance.report_runless_asset_event(AssetMaterialization(QUEUE_KEY))
        actions = _run_dunning(instance, moment)
        day = DemoDay(moment, time.monotonic() - started, actions)
        history.append(day)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(actions.items())) or "nothing due"
        console.print(f"{moment:%Y-%m-%d %H:%M} dunning: {summary} ({day.seconds:.0f}s)")
    # The last day's actions reach the warehouse with one more load.
    last = start + timedelta(days=days - 1, hours=23 - DEMO_HOUR, minutes=59)
    _load_stripe(last)
    _build_recovery_models(last)
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
