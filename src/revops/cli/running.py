"""`revops run`: the Dagster main job, executed in this process, with progress and a summary."""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from revops.core.dbt import run_in_child
from revops.core.paths import DAGSTER_INSTANCE_CONFIG
from revops.core.settings import get_settings
from revops.core.warehouse import connect

POLL_INTERVAL_S = 0.5


@dataclass
class AssetOutcome:
    key: list[str]
    step_key: str
    seconds: float | None = None
    rows: int | None = None


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    elapsed_s: float
    assets: list[AssetOutcome] = field(default_factory=list)
    checks_passed: int = 0
    failed_checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def prepare_dagster_home() -> Path:
    """A persistent instance under REVOPS_HOME with the shipped dagster.yaml, so runs show in the UI."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_INSTANCE_CONFIG, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def parse_dbt_project() -> None:
    """Refresh dbt's manifest so the asset graph matches the models on disk."""
    completed = run_in_child("parse", "--quiet")
    if completed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{completed.stdout}\n{completed.stderr}")


class _ProgressPrinter(threading.Thread):
    """Prints step and asset events of a run as they land in the instance's event log."""

    def __init__(self, instance, run_id: str, console: Console) -> None:
        super().__init__(daemon=True)
        self.instance, self.run_id, self.console = instance, run_id, console
        self.stop_event = threading.Event()
        self._seen = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.flush()
            self.stop_event.wait(POLL_INTERVAL_S)

    def flush(self) -> None:
        records = self.instance.all_logs(self.run_id)
        for record in records[self._seen :]:
            event = record.dagster_event
            if event is None:
                continue
            step = event.step_key or ""
            if event.event_type_value == "STEP_START":
                self.console.print(f"[cyan]▶[/cyan] {step}")
            elif event.event_type_value == "STEP_SUCCESS":
                self.console.print(f"[green]✓[/green] {step}")
            elif event.event_type_value == "STEP_FAILURE":
                self.console.print(f"[red]✗[/red] {step}")
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                key = "/".join(event.asset_key.path) if event.asset_key else "?"
                self.console.print(f"  [dim]materialized[/dim] {key}")
            elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
                evaluation = event.event_specific_data
                key = "/".join(evaluation.asset_key.path)
                self.console.print(f"  [yellow]check failed[/yellow] {key}: {evaluation.check_name}")
        self._seen = len(records)


def _row_counts(keys: list[list[str]]) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    with connect() as client:
        for key in keys:
            database, table = key[0], key[-1]
            engine = client.command(
                "SELECT engine FROM system.tables WHERE database = {db:String} AND name = {t:String}",
                parameters={"db": database, "t": table},
            )
            if not engine or str(engine).endswith("View"):
                continue
            final = " FINAL" if "ReplacingMergeTree" in str(engine) else ""  # Replicated too
            counts[tuple(key)] = int(client.command(f"SELECT count() FROM `{database}`.`{table}`{final}"))
    return counts


def run_main_job(console: Console) -> RunOutcome:
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.utils import make_new_run_id

    prepare_dagster_home()
    parse_dbt_project()
    from revops.assets.definitions import defs
    from revops.assets.jobs import MAIN_JOB_NAME

    job = defs.resolve_job_def(MAIN_JOB_NAME)
    instance = DagsterInstance.get()
    run_id = make_new_run_id()
    printer = _ProgressPrinter(instance, run_id, console)
    started = time.monotonic()
    printer.start()
    try:
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            # The progress printer replaces Dagster's verbose console log; errors still surface.
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
    finally:
        printer.stop_event.set()
        printer.join()
        printer.flush()
    usage_errors = recompute_stale_usage_days(console) if result.success else []
    outcome = RunOutcome(result.success and not usage_errors, run_id, time.monotonic() - started)
    outcome.errors += usage_errors
    step_seconds: dict[str, float] = {}
    step_started: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            step_started[event.step_key] = record.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            step_seconds[event.step_key] = record.timestamp - step_started.get(
                event.step_key, record.timestamp
            )
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            outcome.errors.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            duration = materialization.metadata.get("Execution Duration")
            seconds = float(duration.value) if duration is not None else None
            outcome.assets.append(AssetOutcome(list(materialization.asset_key.path), event.step_key, seconds))
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            outcome.checks_passed += evaluation.passed
            if not evaluation.passed:
                outcome.failed_checks.append(
                    f"{'/'.join(evaluation.asset_key.path)}: {evaluation.check_name}"
                )
    for asset in outcome.assets:
        # Assets materialized together by one step (the raw tables) share that step's duration.
        asset.seconds = asset.seconds if asset.seconds is not None else step_seconds.get(asset.step_key)
    counts = _row_counts([asset.key for asset in outcome.assets])
    for asset in outcome.assets:
        asset.rows = counts.get(tuple(asset.key))
    return outcome


def recompute_stale_usage_days(console: Console) -> list[str]:
    """Bring the day-partitioned usage models up to date: rebuild, with dbt, each range of consecutive
    days whose events changed since they were aggregated (late deliveries included); errors, if any.

    The same models and vars as the `usage_daily` Dagster job and its sensor (assets/usage.py), run
    directly: a ranged Dagster run records a materialization per model per day, thousands on a first
    run, which would make `revops run` take minutes longer.
    """
    import json

    from revops.pipelines.usage.partitions import day_ranges, stale_days

    errors = []
    for first, last in day_ranges(stale_days()):
        console.print(f"[cyan]▶[/cyan] usage days {first} to {last}")
        days = json.dumps({"usage_start_date": first.isoformat(), "usage_end_date": last.isoformat()})
        completed = run_in_child("build", "--select", "tag:usage_daily", "--vars", days, "--quiet")
        if completed.returncode != 0:
            console.print(f"[red]✗[/red] usage days {first} to {last}")
            errors.append(f"usage days {first} to {last}: {completed.stdout.strip()[-2000:]}")
        else:
            console.print(f"[green]✓[/green] usage days {first} to {last}")
    return errors


def print_summary(console: Console, outcome: RunOutcome) -> None:
    table = Table("Asset", "Rows", "Seconds", title=f"revops run {outcome.run_id[:8]}", header_style="bold")
    for asset in sorted(outcome.assets, key=lambda a: a.key):
        table.add_row(
            "/".join(asset.key),
            "-" if asset.rows is None else f"{asset.rows:,}",
            "-" if asset.seconds is None else f"{asset.seconds:.2f}",
        )
    console.print(table)
    console.print(f"Asset checks: {outcome.checks_passed} passed, {len(outcome.failed_checks)} failed")
    for check in outcome.failed_checks:
        console.print(f"[yellow]check failed:[/yellow] {check}")
    for error in outcome.errors:
        console.print(f"[red]error:[/red] {error}")
    # The queue is previewed even when an unrelated step failed: it is whatever the last build left.
    print_dunning_preview(console)
    verdict = "[green]succeeded[/green]" if outcome.success else "[red]failed[/red]"
    console.print(f"Run {verdict} in {outcome.elapsed_s:.1f}s")


def print_dunning_preview(console: Console) -> None:
    """What the dunning job would do with the queue just built (dry run: nothing is sent or logged)."""
    from collections import Counter
    from datetime import UTC, datetime

    from revops_simulator.business.clock import to_datetime
    from revops_simulator.world import clock_of

    from revops.actions.executor import preview_queue
    from revops.actions.log import read_queue
    from revops.actions.policy import PolicyError, load_policies

    settings = get_settings()
    # Actions are decided at the providers' clock: the simulator's, or the wall clock for real accounts.
    now = datetime.now(UTC) if settings.workspaces_file else to_datetime(clock_of(settings.sim_clock))
    try:
        policies = load_policies(settings.dunning_policies_dir)
    except PolicyError as error:
        console.print(f"[red]dunning policy:[/red] {error}")
        return
    report = preview_queue(read_queue(), policies, now, settings.dunning_kill_switch)
    acting = {("execute", "due"), ("deferred", "dry_run")}
    decisions = Counter(
        (item.workspace_id, item.action, "would act" if (verdict, reason) in acting else reason)
        for item, verdict, reason in report.results
    )
    live = sorted(ws for ws, policy in policies.items() if policy.live)
    mode = f"live for {', '.join(live)}" if live else "dry run everywhere"
    console.print(f"Dunning queue at {now:%Y-%m-%d %H:%M} UTC ({mode}): {len(report.results)} due")
    for (workspace, action, decision), count in sorted(decisions.items()):
        console.print(f"  {workspace}: {count} {action} — {decision}")
