"""Raw-table expectations as Dagster asset checks: one `expectations` check per raw table.

The checks are declared on the ingestion multi-assets (`check_specs`) and evaluated by the same
step right after loading, so the records they quarantine are excluded from the dbt models of that
same run (staging anti-joins `raw.quarantined_records`). A failed check does not block dbt: the
failing records are already out of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from revops.pipelines.loading import RAW_DATABASE
from revops.quality import TableRules, TableValidation, validate_tables

EXPECTATIONS_CHECK = "expectations"


def _asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_DATABASE, table])


def expectation_check_specs(tables: Iterable[str]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            EXPECTATIONS_CHECK,
            asset=_asset_key(table),
            description=(
                "Great Expectations suite from the table's contract: keys present and unique, ISO 4217 "
                "currencies, amounts well-formed and in range, timestamps in the load window. Records "
                "failing a blocking expectation are quarantined (raw.quarantined_records)."
            ),
        )
        for table in tables
    ]


def expectation_check_result(table: str, outcome: TableValidation | None) -> AssetCheckResult:
    if outcome is None:  # the table does not exist yet: nothing was loaded into it
        return AssetCheckResult(
            asset_key=_asset_key(table),
            check_name=EXPECTATIONS_CHECK,
            passed=True,
            metadata={"rows_validated": MetadataValue.int(0)},
        )
    return AssetCheckResult(
        asset_key=_asset_key(table),
        check_name=EXPECTATIONS_CHECK,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if outcome.blocking_failed else AssetCheckSeverity.WARN,
        metadata={
            "rows_validated": MetadataValue.int(outcome.rows),
            "expectations_run": MetadataValue.int(outcome.expectations_run),
            "expectations_failed": MetadataValue.int(outcome.expectations_failed),
            "unexpected_counts": MetadataValue.json(outcome.unexpected_counts),
            "blocking_failed": MetadataValue.json(outcome.blocking_failed),
            "newly_quarantined": MetadataValue.int(outcome.quarantined),
            "failing_samples": MetadataValue.json(outcome.samples),
            "elapsed_s": MetadataValue.float(round(outcome.elapsed_s, 3)),
        },
    )


def expectation_check_results(rules: Iterable[TableRules]) -> Iterator[AssetCheckResult]:
    """Validate each table once (quarantining blocking failures) and report one check result each."""
    rules = list(rules)
    outcomes = validate_tables(rules)
    for table_rules in rules:
        yield expectation_check_result(table_rules.table, outcomes.get(table_rules.table))
