"""Dunning: the policy table, the `dunning_actions` job and the sensor that launches it.

The sensor reads `marts.dunning_queue` on a periodic tick and whenever the queue is rebuilt, and
launches one `dunning_actions` run per queue snapshot (the run key names the queue's contents, its
materialization and the hour, so an unchanged queue is retried at most hourly, for items deferred by
quiet hours or the daily cap). The run carries the queue out through actions/ (docs/recovery.md).
"""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetKey,
    ConfigurableResource,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    job,
    op,
    sensor,
)

from revops.actions import log
from revops.actions.executor import build_adapters, execute_queue
from revops.actions.policy import Policy, load_policies
from revops.assets.resources import ProviderAccountsResource
from revops.core.settings import Settings, get_settings
from revops.pipelines.runner import ensure_raw_tables

DUNNING_JOB_NAME = "dunning_actions"
QUEUE_KEY = AssetKey(["marts", "dunning_queue"])


class DunningResource(ConfigurableResource):
    """The dunning policies and the global kill switch (REVOPS_DUNNING_*; secrets stay in settings)."""

    policies_dir: str
    kill_switch: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "DunningResource":
        return cls(policies_dir=str(settings.dunning_policies_dir), kill_switch=settings.dunning_kill_switch)

    def policies(self) -> dict[str, Policy]:
        return load_policies(Path(self.policies_dir))


@asset(
    key=AssetKey(["raw", "dunning_policies"]),
    group_name="dunning",
    description="Each workspace's dunning policy steps, synced from the versioned policy files.",
)
def dunning_policies(dunning: DunningResource) -> MaterializeResult:
    policies = dunning.policies()
    ensure_raw_tables()
    rows = log.sync_policies(policies.values())
    return MaterializeResult(
        metadata={
            "steps": rows,
            "policies": ", ".join(
                f"{p.workspace_id} {p.version}{' (live)' if p.live else ''}" for p in policies.values()
            ),
        }
    )


@op(
    description="Carry out the due dunning actions exactly once, logging each attempt to raw.dunning_actions."
)
def carry_out_dunning_queue(
    context: OpExecutionContext, dunning: DunningResource, providers: ProviderAccountsResource
) -> None:
    policies = dunning.policies()
    items = log.read_queue()
    with providers.open_for_actions() as targets:
        adapters = build_adapters(targets.registry, get_settings(), targets.smtp, targets.link_secret)
        report = execute_queue(items, policies, adapters, targets.now, context.run_id, dunning.kill_switch)
    for (workspace, status, reason), count in sorted(report.counts().items()):
        context.log.info(f"{workspace}: {count} {status} ({reason})")
    for workspace, why in sorted(report.skipped_workspaces.items()):
        # Another executor (an overlapping run, `revops demo`, a crashed run's unexpired lease) has it.
        context.log.warning(f"{workspace}: not acted on by this run: {why}")


@job(name=DUNNING_JOB_NAME, description="Carry out the dunning queue (dry run until a workspace goes live).")
def dunning_actions_job() -> None:
    carry_out_dunning_queue()


def queue_snapshot_key(keys: list[str], materialized_at: float | None, now: datetime) -> str:
    """One run key per queue snapshot: its items, when it was built, and the hour (periodic retries)."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
    return f"queue-{digest}-{materialized_at or 0:.0f}-{now:%Y%m%d%H}"


@sensor(
    job=dunning_actions_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.STOPPED,
    description="Launches dunning_actions when the dunning queue has due items (new snapshot or hourly).",
)
def dunning_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    items = log.read_queue()
    if not items:
        return SkipReason("the dunning queue is empty")
    latest = context.instance.get_latest_materialization_event(QUEUE_KEY)
    run_key = queue_snapshot_key(
        [item.idempotency_key for item in items], latest.timestamp if latest else None, datetime.now(UTC)
    )
    return RunRequest(run_key=run_key, tags={"revops/dunning_queue_items": str(len(items))})


def dunning_definitions(dunning: DunningResource) -> Definitions:
    return Definitions(
        assets=[dunning_policies],
        jobs=[dunning_actions_job],
        sensors=[dunning_sensor],
        resources={"dunning": dunning},
    )
