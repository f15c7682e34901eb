"""`revops run`: the Dagster jobs, executed in this process against the persistent instance, with
progress and a summary: the main job, then the usage job for each range of days whose events changed."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from revops.core.dbt import run_in_child
from revops.core.paths import DAGSTER_INSTANCE_CONFIG
from revops.core.settings import ConfigurationError, Settings
from revops.core.warehouse import connect

if TYPE_CHECKING:
    from dagster import AssetKey, DagsterInstance, Definitions

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
    stale_marts: dict[str, list[str]] = field(default_factory=dict)
    """Workspace → the marts its failed freshness checks name (reported once per workspace)."""


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance under REVOPS_HOME with the shipped dagster.yaml (`make dev` opens the same
    one), so runs show in the UI."""
    from dagster import DagsterInstance

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_INSTANCE_CONFIG, home / "dagster.yaml")
    return DagsterInstance.from_config(str(home))


def parse_dbt_project() -> None:
    """Refresh dbt's manifest so the asset graph matches the models on disk."""
    completed = run_in_child("parse", "--quiet")
    if completed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{completed.stdout}\n{completed.stderr}")


class _ProgressPrinter(threading.Thread):
    """Prints step and asset events of a run as they land in the instance's event log (reading only
    the records after the last one it read, so a long run costs each record once). In a terminal the
    ingestion steps (per workspace loaded) and the usage rebuild (per day's models) show rich progress
    bars; piped, the same progress is plain lines."""

    def __init__(self, instance: DagsterInstance, run_id: str, console: Console) -> None:
        super().__init__(daemon=True)
        self.instance, self.run_id, self.console = instance, run_id, console
        self.stop_event = threading.Event()
        self._cursor: str | None = None
        self._partitioned: set[str] = set()
        self._failed_syncs: set[str] = set()
        self._bars: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        if console.is_terminal:
            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )

    def run(self) -> None:
        if self._bars is not None:
            self._bars.start()
        while not self.stop_event.is_set():
            self.flush()
            self.stop_event.wait(POLL_INTERVAL_S)

    def close(self) -> None:
        self.flush()
        if self._bars is not None:
            self._bars.stop()

    def _print(self, line: str) -> None:
        (self._bars.console if self._bars is not None else self.console).print(line)

    def _advance(self, key: str, label: str, done: int | None = None, total: int | None = None) -> None:
        """Move the bar `key` to `done` of `total` (or one further); without a terminal, nothing: the
        caller's plain line says it."""
        if self._bars is None:
            return
        if key not in self._tasks:
            self._tasks[key] = self._bars.add_task(label, total=total)
        task = self._tasks[key]
        if done is None:
            self._bars.advance(task)
        else:
            self._bars.update(task, completed=done, total=total)

    def _finish(self, key: str) -> None:
        """The step is over: its bar goes (its ✓ or ✗ line says how it ended; what runs next, such as
        dbt's output, is not printed under a finished bar)."""
        if self._bars is not None and key in self._tasks:
            self._bars.remove_task(self._tasks.pop(key))

    def flush(self) -> None:
        from revops.assets.freshness import FRESHNESS_CHECK
        from revops.assets.ingestion import SYNC_CHECK, WORKSPACE_PROGRESS

        connection = self.instance.get_records_for_run(self.run_id, cursor=self._cursor)
        self._cursor = connection.cursor
        for log_record in connection.records:
            record = log_record.event_log_entry
            event = record.dagster_event
            if event is None:
                progress = WORKSPACE_PROGRESS.match(record.user_message or "")
                if progress is not None:
                    done, total = int(progress["done"]), int(progress["total"])
                    self._advance(
                        record.step_key or progress["source"], f"load {progress['source']}", done, total
                    )
                    if self._bars is None:
                        self._print(f"  [dim]loaded[/dim] {record.user_message}")
                continue
            step = event.step_key or ""
            if event.event_type_value == "STEP_START":
                self._print(f"[cyan]▶[/cyan] {step}")
            elif event.event_type_value == "STEP_SUCCESS":
                self._finish(step)
                self._print(f"[green]✓[/green] {step}")
            elif event.event_type_value == "STEP_FAILURE":
                self._finish(step)
                self._print(f"[red]✗[/red] {step}")
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                key = "/".join(event.asset_key.path) if event.asset_key else "?"
                partition = event.event_specific_data.materialization.partition
                # A ranged run materializes each asset once per day: one line per asset is enough.
                if partition is None or key not in self._partitioned:
                    days = " (per day)" if partition is not None else ""
                    self._print(f"  [dim]materialized[/dim] {key}{days}")
                if partition is not None:
                    self._partitioned.add(key)
                    self._advance(step, "rebuild usage (asset-days)")
            elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
                evaluation = event.event_specific_data
                if evaluation.check_name == SYNC_CHECK:  # one per table of the source: its errors once
                    if step not in self._failed_syncs:
                        for error in evaluation.metadata["errors"].value.values():
                            self._print(f"  [red]load failed[/red] {error}")
                    self._failed_syncs.add(step)
                    continue
                key = "/".join(evaluation.asset_key.path)
                if evaluation.check_name == FRESHNESS_CHECK:
                    workspaces = ", ".join(evaluation.metadata["stale_workspaces"].value)
                    self._print(f"  [yellow]stale[/yellow] {key} for {workspaces}")
                    continue
                self._print(f"  [yellow]check failed[/yellow] {key}: {evaluation.check_name}")


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


def execute_job(
    instance: DagsterInstance,
    defs: Definitions,
    job_name: str,
    *,
    console: Console | None = None,
    run_config: dict[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: Sequence[AssetKey] | None = None,
) -> tuple[bool, str]:
    """Run one job of `defs` in this process (with live progress on `console`); (success, run id)."""
    from dagster._core.utils import make_new_run_id

    job = defs.resolve_job_def(job_name)
    run_id = make_new_run_id()
    printer = _ProgressPrinter(instance, run_id, console) if console is not None else None
    if printer is not None:
        printer.start()
    try:
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            # Progress (or the caller's summary) replaces Dagster's verbose console log; errors surface.
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}, **(run_config or {})},
            tags=tags,
            asset_selection=asset_selection,
        )
    finally:
        if printer is not None:
            printer.stop_event.set()
            printer.join()
            printer.close()
    return result.success, run_id


@dataclass(frozen=True)
class RunTargets:
    """What `revops run --workspace/--source` (and `revops backfill`) limit a run to; empty: everything."""

    workspaces: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.workspaces and not self.sources


def resolve_targets(
    known_workspaces: list[str], known_sources: list[str], workspaces: list[str], sources: list[str]
) -> RunTargets:
    """The run's targets, or a ConfigurationError naming the unknown ones and the valid ones (one line)."""
    kinds = (("workspace", workspaces, known_workspaces), ("source", sources, known_sources))
    for kind, given, known in kinds:
        unknown = [name for name in given if name not in known]
        if unknown:
            raise ConfigurationError(
                f"unknown {kind} {', '.join(map(repr, unknown))}; {kind}s: {', '.join(sorted(known)) or '-'}"
            )
    return RunTargets(tuple(dict.fromkeys(workspaces)), tuple(dict.fromkeys(sources)))


def _selection_and_config(defs: Definitions, targets: RunTargets) -> tuple[list[Any] | None, dict[str, Any]]:
    """The main job's asset subset for `targets` (None: the whole job) and the ingestion steps' config."""
    from revops.assets.ingestion import ingestion_op_name
    from revops.assets.jobs import sources_selection
    from revops.pipelines.sources import SOURCES

    sources = [source for source in SOURCES if not targets.sources or source.name in targets.sources]
    selection = None
    if targets.sources:
        # The sources' raw tables and what is built from them, as their own jobs (`load_<source>`) do.
        subset = sources_selection(sources).resolve(defs.resolve_asset_graph())
        selection = sorted(subset, key=lambda key: key.path)
    config = {"config": {"workspaces": list(targets.workspaces)}}
    ops = {ingestion_op_name(source): config for source in sources} if targets.workspaces else {}
    return selection, ({"ops": ops} if ops else {})


def require_upstream_models(defs: Definitions, selection: Sequence[AssetKey]) -> None:
    """A run limited to some sources rebuilds only the models built from them; the models they also
    read from the other sources must exist already (a warehouse `revops run` built once), or dbt fails
    halfway: refuse first, in one line."""
    graph = defs.resolve_asset_graph()
    selected = set(selection)
    upstream = {
        parent
        for key in selected
        for parent in graph.get(key).parent_keys
        if parent not in selected and parent.path[0] != "raw" and graph.has(parent)
    }
    upstream = {key for key in upstream if graph.get(key).is_materializable}
    if not upstream:
        return
    with connect() as client:
        existing = {
            (str(database), str(name))
            for database, name in client.query(
                "SELECT database, name FROM system.tables "
                "WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema')"
            ).result_rows
        }
    missing = sorted("/".join(key.path) for key in upstream if (key.path[0], key.path[-1]) not in existing)
    if missing:
        raise ConfigurationError(
            f"the models these sources feed also read {len(missing)} model(s) not built yet "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}): run `revops run` once first"
        )


def run_main_job(console: Console, settings: Settings, targets: RunTargets | None = None) -> RunOutcome:
    """The main job (or its part loading `targets`: their raw tables and the models downstream), then
    the usage job for every range of days whose events changed (late deliveries included), each a
    Dagster run of the Definitions `settings` configure."""
    from revops.assets.definitions import build_definitions
    from revops.assets.jobs import MAIN_JOB_NAME
    from revops.assets.resources import providers_from
    from revops.assets.usage import USAGE_JOB_NAME, stale_usage_run_requests

    targets = targets or RunTargets()
    providers = providers_from(settings)  # a configuration error stops the run before any work
    instance = dagster_instance(settings)
    parse_dbt_project()
    defs = build_definitions(settings, providers=providers)
    selection, run_config = _selection_and_config(defs, targets)
    if selection is not None:
        require_upstream_models(defs, selection)
    started = time.monotonic()
    success, run_id = execute_job(
        instance, defs, MAIN_JOB_NAME, console=console, run_config=run_config, asset_selection=selection
    )
    run_ids = [run_id]
    if success and (not targets.sources or "usage" in targets.sources):
        # Computed after the main job loaded the day's events; each request is one range of days.
        for request in stale_usage_run_requests():
            success, usage_run = execute_job(
                instance, defs, USAGE_JOB_NAME, console=console, tags=request.tags
            )
            run_ids.append(usage_run)
            if not success:
                break
    return run_outcome(instance, run_ids, success, time.monotonic() - started)


def run_outcome(instance: DagsterInstance, run_ids: list[str], success: bool, elapsed_s: float) -> RunOutcome:
    """What the runs did, from their event logs. A workspace whose load failed fails the run's outcome
    (its sync check), though Dagster built everyone's models."""
    from dagster import DagsterEventType

    from revops.assets.freshness import FRESHNESS_CHECK
    from revops.assets.ingestion import SYNC_CHECK

    outcome = RunOutcome(success, run_ids[0], elapsed_s)
    failed_loads: dict[str, str] = {}
    step_seconds: dict[str, float] = {}
    step_started: dict[str, float] = {}
    for record in (record for run in run_ids for record in instance.all_logs(run)):
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
            if evaluation.passed:
                outcome.checks_passed += 1
            elif evaluation.check_name == SYNC_CHECK:  # on each of the source's tables: reported once
                failed_loads.update(evaluation.metadata["errors"].value)
            elif evaluation.check_name == FRESHNESS_CHECK:  # on each mart: reported per workspace
                for workspace_id in evaluation.metadata["stale_workspaces"].value:
                    outcome.stale_marts.setdefault(workspace_id, []).append(evaluation.asset_key.path[-1])
            else:
                key = "/".join(evaluation.asset_key.path)
                outcome.failed_checks.append(f"{key}: {evaluation.check_name}")
    # A partitioned asset materializes once per day; the summary shows it once.
    outcome.assets = list({tuple(asset.key): asset for asset in outcome.assets}.values())
    for asset in outcome.assets:
        # Assets materialized together by one step (the raw tables) share that step's duration.
        asset.seconds = asset.seconds if asset.seconds is not None else step_seconds.get(asset.step_key)
    counts = _row_counts([asset.key for asset in outcome.assets])
    for asset in outcome.assets:
        asset.rows = counts.get(tuple(asset.key))
    outcome.errors.extend(failed_loads.values())
    outcome.success = outcome.success and not failed_loads
    return outcome


def print_summary(console: Console, outcome: RunOutcome, settings: Settings) -> None:
    table = Table("Asset", "Rows", "Seconds", title=f"revops run {outcome.run_id[:8]}", header_style="bold")
    for asset in sorted(outcome.assets, key=lambda a: a.key):
        table.add_row(
            "/".join(asset.key),
            "-" if asset.rows is None else f"{asset.rows:,}",
            "-" if asset.seconds is None else f"{asset.seconds:.2f}",
        )
    console.print(table)
    failed = len(outcome.failed_checks) + sum(len(marts) for marts in outcome.stale_marts.values())
    console.print(f"Asset checks: {outcome.checks_passed} passed, {failed} failed")
    for check in outcome.failed_checks:
        console.print(f"[yellow]check failed:[/yellow] {check}")
    for workspace_id, marts in sorted(outcome.stale_marts.items()):
        console.print(
            f"[yellow]stale:[/yellow] {workspace_id}: {len(marts)} marts keep its last good sync "
            f"({', '.join(sorted(marts))}); see `revops status`"
        )
    for error in outcome.errors:
        console.print(f"[red]error:[/red] {error}")
    # The queue is previewed even when an unrelated step failed: it is whatever the last build left.
    print_dunning_preview(console, settings)
    verdict = "[green]succeeded[/green]" if outcome.success else "[red]failed[/red]"
    console.print(f"Run {verdict} in {outcome.elapsed_s:.1f}s")


def print_dunning_preview(console: Console, settings: Settings) -> None:
    """What the dunning job would do with the queue just built, now (the providers' clock: the
    simulator's, or the wall clock for real accounts) — the executor with no-op adapters: nothing is
    sent or logged."""
    from collections import Counter

    from revops.actions.executor import preview_queue
    from revops.actions.log import read_queue
    from revops.actions.policy import PolicyError, load_policies
    from revops.assets.resources import providers_from

    now = providers_from(settings).now()
    try:
        policies = load_policies(settings.dunning_policies_dir)
    except PolicyError as error:
        console.print(f"[red]dunning policy:[/red] {error}")
        return
    report = preview_queue(read_queue(), policies, now, settings.dunning_kill_switch)
    decisions = Counter(
        (item.workspace_id, item.action, "would act" if status == "sent" or reason == "dry_run" else reason)
        for item, status, reason in report.results
    )
    live = sorted(ws for ws, policy in policies.items() if policy.live)
    mode = f"live for {', '.join(live)}" if live else "dry run everywhere"
    console.print(f"Dunning queue at {now:%Y-%m-%d %H:%M} UTC ({mode}): {len(report.results)} due")
    for (workspace, action, decision), count in sorted(decisions.items()):
        console.print(f"  {workspace}: {count} {action} — {decision}")
