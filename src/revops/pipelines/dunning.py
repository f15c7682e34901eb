"""The raw tables of dunning (docs/recovery.md): written by revops itself, not loaded from a provider.

- `raw.dunning_policies`: each workspace's dunning policy steps, one row per (workspace, version, step),
  synced from the policy files (actions/policy.py); a ReplacingMergeTree, so re-syncing adds nothing.
- `raw.dunning_actions`: the append-only audit log of every dunning attempt (actions/log.py): a
  `pending` row before the side effect, then `sent`, `failed`, `skipped` or `deferred`, with a reason.

Declared here, beside the sources' contracts, so `ensure_raw_tables()` creates them before dbt runs.
"""

from __future__ import annotations

import dlt
from dlt.common.schema.utils import new_table

from revops.pipelines.loading import VERSION_COLUMN, contract_columns

POLICIES_TABLE = "dunning_policies"
ACTIONS_TABLE = "dunning_actions"

POLICY_COLUMNS: dict[str, str] = {
    "workspace_id": "text",
    "policy_version": "text",
    "step_index": "bigint",
    "effective_from": "timestamp",
    "step_name": "text",
    "action": "text",
    "template": "text",
    "offset_days": "bigint",
    "decline_categories": "text",  # comma-separated decline categories the step applies to
    "holdout_basis_points": "bigint",
    "holdout_salt": "text",
    "retry_window_days": "bigint",
    "is_live": "bool",
    VERSION_COLUMN: "timestamp",
}
POLICY_KEY = ("workspace_id", "policy_version", "step_index")

ACTION_COLUMNS: dict[str, str] = {
    "attempt_id": "text",
    "idempotency_key": "text",
    "workspace_id": "text",
    "invoice_id": "text",
    "customer_id": "text",
    "policy_version": "text",
    "step_index": "bigint",
    "step_name": "text",
    "action": "text",
    "status": "text",
    "reason": "text",
    "detail": "text",
    "is_live": "bool",
    "run_id": "text",
    "acted_at": "timestamp",  # business time of the attempt: the clock the policy was evaluated at
    "recorded_at": "timestamp",  # wall-clock time the row was written
}
ACTION_REQUIRED = (
    "attempt_id",
    "idempotency_key",
    "workspace_id",
    "invoice_id",
    "status",
    "acted_at",
    "recorded_at",
)


def declare_tables(schema: dlt.Schema) -> None:
    policy = contract_columns(POLICY_COLUMNS, POLICY_KEY, ("effective_from", "action", VERSION_COLUMN))
    schema.update_table(new_table(POLICIES_TABLE, columns=list(policy.values())))
    # No key: an append-only MergeTree, every attempt kept.
    log = contract_columns(ACTION_COLUMNS, (), ACTION_REQUIRED)
    schema.update_table(new_table(ACTIONS_TABLE, columns=list(log.values())))
