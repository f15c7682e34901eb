"""Runs each raw table's expectation suite with Great Expectations and quarantines what fails.

Each table is read once, through `core.warehouse.connect()`, as the rows of every key's latest
fetch (what staging would keep), with only the columns the suite needs. The suite runs on that
pandas DataFrame in one ephemeral GX context; results are COMPLETE, indexed by (workspace_id, key),
so every failing record is known by its key. Failures of blocking expectations are written to
`raw.quarantined_records`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client

from revops.core.warehouse import connect
from revops.core.workspaces import WorkspaceRegistry
from revops.pipelines.errors import SourceError
from revops.pipelines.loading import RAW_DATABASE, VERSION_COLUMN
from revops.pipelines.quarantine import EXTRACTION_STAGE
from revops.pipelines.runner import pipeline_for, run_pipeline
from revops.pipelines.sources import SOURCES, source_named
from revops.quality.iso4217 import ISO_4217_CODES
from revops.quality.quarantine import (
    QuarantinedRecord,
    QuarantineEntry,
    ensure_quarantine_table,
    quarantine,
    quarantined,
    record_releases,
    unquarantine,
)
from revops.quality.rules import (
    MAX_MAJOR_UNITS,
    MAX_MINOR_UNITS,
    RAW_TABLE_RULES,
    TENANT,
    TIME_CEILING_DAYS,
    TIME_FLOOR,
    TableRules,
)

if TYPE_CHECKING:
    import pandas as pd

MAX_SAMPLES = 10
RECORD_ID = "record_id"


@dataclass(frozen=True)
class _Check:
    name: str
    """Stable expectation name, stored with quarantined records (`currency_in_iso_4217:currency`)."""
    blocking: bool
    expectation: Any
    column: str | None
    describe: str
    """Why a record fails, completed with the offending value."""


@dataclass
class TableValidation:
    table: str
    rows: int = 0
    expectations_run: int = 0
    expectations_failed: int = 0
    unexpected_counts: dict[str, int] = field(default_factory=dict)
    """Failing expectation → unexpected records."""
    blocking_failed: list[str] = field(default_factory=list)
    samples: list[dict[str, str]] = field(default_factory=list)
    """Up to MAX_SAMPLES failing records: workspace_id, record_id, expectation, reason."""
    quarantined: int = 0
    """Records of this run's failures newly written to the quarantine."""
    elapsed_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.expectations_failed == 0


def _expectations() -> ModuleType:
    """GX takes seconds to import: only a validation run pays for it, not loading the Dagster code."""
    import great_expectations.expectations as gxe

    return gxe


def _sql_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _checks(rules: TableRules, present: set[str]) -> tuple[list[_Check], dict[str, str]]:
    """The table's suite for the columns it has, and the SELECT list (alias → SQL) it reads."""
    q = _sql_identifier
    gxe = _expectations()
    select: dict[str, str] = {
        TENANT: f"nullIf({q(TENANT)}, '')",
        RECORD_ID: f"nullIf(toString({q(rules.key)}), '')",
    }
    checks = [
        _Check(
            f"key_present:{TENANT}",
            True,
            gxe.ExpectColumnValuesToNotBeNull(column=TENANT),
            TENANT,
            "no workspace_id",
        ),
        _Check(
            f"key_present:{rules.key}",
            True,
            gxe.ExpectColumnValuesToNotBeNull(column=RECORD_ID),
            rules.key,
            f"no {rules.key}",
        ),
        _Check(
            f"key_unique:{rules.key}",
            False,
            gxe.ExpectCompoundColumnsToBeUnique(column_list=[TENANT, RECORD_ID]),
            None,
            f"{rules.key} appears more than once in one fetch",
        ),
    ]
    codes = sorted(c.lower() if rules.currency_case == "lower" else c for c in ISO_4217_CODES)
    for alias, (column, expression) in rules.currency_columns.items():
        if column not in present:
            continue
        select[alias] = expression
        checks.append(
            _Check(
                f"currency_iso_4217:{alias}",
                True,
                gxe.ExpectColumnValuesToBeInSet(column=alias, value_set=codes),
                alias,
                f"{alias} is not an ISO 4217 code ({rules.currency_case} case)",
            )
        )
    limit = MAX_MINOR_UNITS if rules.minor_units else MAX_MAJOR_UNITS
    for money in rules.money_columns:
        if money in present:
            select[money] = f"toFloat64({q(money)})"
            low = 0 if money in rules.non_negative else -limit
            checks.append(
                _Check(
                    f"amount_in_range:{money}",
                    True,
                    gxe.ExpectColumnValuesToBeBetween(column=money, min_value=low, max_value=limit),
                    money,
                    f"{money} outside [{low}, {limit}]",
                )
            )
        # dlt lands a value of the wrong type in a variant column (`amount__v_text`): malformed.
        for variant in sorted(c for c in present if c.startswith(f"{money}__v_")):
            select[variant] = f"toString({q(variant)})"
            checks.append(
                _Check(
                    f"amount_well_formed:{money}",
                    True,
                    gxe.ExpectColumnValuesToBeNull(column=variant),
                    variant,
                    f"{money} is not a number",
                )
            )
    floor = int(datetime.fromisoformat(TIME_FLOOR).replace(tzinfo=UTC).timestamp())
    ceiling = int((datetime.now(UTC) + timedelta(days=TIME_CEILING_DAYS)).timestamp())
    for column in (*rules.epoch_columns, *rules.time_columns):
        if column not in present:
            continue
        alias = f"{column}__epoch"
        is_epoch = column in rules.epoch_columns
        select[alias] = q(column) if is_epoch else f"toInt64(toUnixTimestamp(toDateTime({q(column)}, 'UTC')))"
        checks.append(
            _Check(
                f"time_in_window:{column}",
                False,
                gxe.ExpectColumnValuesToBeBetween(column=alias, min_value=floor, max_value=ceiling),
                alias,
                f"{column} before {TIME_FLOOR} or after now + {TIME_CEILING_DAYS} day",
            )
        )
    return checks, select


def _read(client: Client, rules: TableRules, select: dict[str, str]) -> pd.DataFrame:
    q = _sql_identifier
    table = f"{RAW_DATABASE}.{q(rules.table)}"
    columns = ", ".join(f"{expression} AS {q(alias)}" for alias, expression in select.items())
    key = f"{q(TENANT)}, {q(rules.key)}"
    # Every key's latest fetch (what staging keeps); a retried file's copies collapse by dlt row id,
    # so a key still repeated is the same object sent twice in one fetch.
    return client.query_df(
        f"SELECT {columns} FROM {table} "
        f"WHERE ({key}, {q(VERSION_COLUMN)}) IN "
        f"(SELECT {key}, max({q(VERSION_COLUMN)}) FROM {table} GROUP BY {key}) "
        f"LIMIT 1 BY {key}, `_dlt_id`"
    )


def _present_columns(client: Client) -> dict[str, set[str]]:
    present: dict[str, set[str]] = {}
    for table, column in client.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String}", parameters={"db": RAW_DATABASE}
    ).result_rows:
        present.setdefault(table, set()).add(column)
    return present


def _plain(value: Any) -> Any:
    """A Python scalar for a pandas/numpy one; None for missing values."""
    value = value.item() if hasattr(value, "item") else value
    return None if value is None or (isinstance(value, float) and value != value) else value


def _text(value: Any) -> str:
    value = _plain(value)
    return "" if value is None else str(value)


def _validate(
    client: Client, context: Any, rules: TableRules, present: set[str]
) -> tuple[TableValidation, list[QuarantinedRecord]]:
    started = time.monotonic()
    outcome = TableValidation(rules.table)
    checks, select = _checks(rules, present)
    frame = _read(client, rules, select)
    outcome.rows = len(frame)
    outcome.expectations_run = len(checks)
    quarantined: list[QuarantinedRecord] = []
    if frame.empty:  # nothing can fail; GX is skipped to keep empty tables free
        outcome.elapsed_s = time.monotonic() - started
        return outcome, quarantined
    by_name = {check.name: check for check in checks}
    for check in checks:
        check.expectation.meta = {"revops_check": check.name}
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=rules.table, expectations=[check.expectation for check in checks])
    batch = context.data_sources.add_pandas(rules.table).add_dataframe_asset(rules.table)
    result = (
        batch.add_batch_definition_whole_dataframe("latest")
        .get_batch(batch_parameters={"dataframe": frame})
        .validate(
            suite,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [TENANT, RECORD_ID],
                "include_unexpected_rows": False,
            },
        )
    )
    for expectation_result in result.results:
        check = by_name[expectation_result.expectation_config.meta["revops_check"]]
        if expectation_result.success:
            continue
        details = expectation_result.result or {}
        failing = details.get("unexpected_index_list") or []
        outcome.expectations_failed += 1
        outcome.unexpected_counts[check.name] = int(details.get("unexpected_count") or len(failing))
        if check.blocking:
            outcome.blocking_failed.append(check.name)
        for entry in failing:
            value = _plain(entry.get(check.column)) if check.column else None
            reason = check.describe if value is None else f"{check.describe}: {value!r}"
            record = QuarantinedRecord(
                _text(entry.get(TENANT)), rules.table, _text(entry.get(RECORD_ID)), check.name, reason
            )
            if len(outcome.samples) < MAX_SAMPLES:
                outcome.samples.append(
                    {
                        "workspace_id": record.workspace_id,
                        "record_id": record.record_id,
                        "expectation": check.name,
                        "reason": reason,
                        "blocking": str(check.blocking).lower(),
                    }
                )
            if check.blocking:
                quarantined.append(record)
    outcome.elapsed_s = time.monotonic() - started
    return outcome, quarantined


def validate_tables(rules: Iterable[TableRules], client: Client | None = None) -> dict[str, TableValidation]:
    """Validate each raw table once (those that exist) by its rules, quarantining blocking failures."""
    if client is None:
        with connect() as opened:
            return validate_tables(rules, opened)
    _expectations()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    ensure_quarantine_table(client)  # staging anti-joins it, so it exists even when empty
    present = _present_columns(client)
    outcomes: dict[str, TableValidation] = {}
    for table_rules in {table_rules.table: table_rules for table_rules in rules}.values():
        table = table_rules.table
        if table not in present:
            continue
        outcome, records = _validate(client, context, table_rules, present[table])
        outcome.quarantined = quarantine(client, table, records) if records else 0
        outcomes[table] = outcome
    return outcomes


def validate_raw_tables(client: Client | None = None) -> dict[str, TableValidation]:
    """Validate every declared raw table."""
    return validate_tables(RAW_TABLE_RULES.values(), client)


def _refetch(entries: Sequence[QuarantineEntry], registry: WorkspaceRegistry) -> None:
    """Fetch extraction-stage entries again from their providers and load what is now valid (what is
    still not goes back to the quarantine): the release of a record that never reached its table."""
    by_pipeline: dict[tuple[str, str], list[tuple[str, str, str | None]]] = defaultdict(list)
    for entry in entries:
        source = next(s for s in SOURCES if entry.table_name in s.tables and s.refetch is not None)
        by_pipeline[source.name, entry.workspace_id].append(
            (entry.table_name, entry.record_id, entry.payload)
        )
    workspaces = {workspace.id: workspace for workspace in registry.workspaces}
    for (name, workspace_id), records in by_pipeline.items():
        source = source_named(name)
        assert source.refetch is not None
        account = workspaces[workspace_id].account(source.name) if workspace_id in workspaces else None
        if account is None:
            raise SourceError(
                f"workspace {workspace_id!r} has no {source.name} account to fetch records from"
            )
        run_pipeline(pipeline_for(source.name, workspace_id), source.refetch(workspace_id, account, records))


def release_quarantined(
    client: Client,
    entries: Sequence[QuarantineEntry],
    why: str,
    released_by: str,
    registry: WorkspaceRegistry | None = None,
) -> tuple[list[QuarantineEntry], list[QuarantineEntry]]:
    """Release `entries` after their fix: take them out of the quarantine; fetch those a source rejected
    as it extracted them again from the provider (`registry` says where) and load what is now valid;
    validate their tables again (what still fails is quarantined again, as any load's validation would);
    write an audit row for each record that stays out. (released, still failing). Staging reads the
    released records on its next build."""
    if not entries:
        return [], []
    refetched = [entry for entry in entries if entry.stage == EXTRACTION_STAGE]
    if refetched and registry is None:
        raise SourceError("releasing records a source rejected needs the workspace registry to fetch them")
    unquarantine(client, entries)
    if refetched:
        assert registry is not None
        _refetch(refetched, registry)
    tables = {entry.table_name for entry in entries}
    validate_tables([rules for table, rules in RAW_TABLE_RULES.items() if table in tables], client)
    again = {entry.key for entry in quarantined(client)}
    released = [entry for entry in entries if entry.key not in again]
    if released:
        record_releases(client, released, why, released_by)
    return released, [entry for entry in entries if entry.key in again]
