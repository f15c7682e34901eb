"""The numbers people watch, on the materializations of their marts (so Dagster plots them run after
run), and business alerts on them as asset checks that warn, with thresholds in run config.

KPI metadata keys are `<workspace>: <kpi>`; amounts are in major units of the reporting currency (named
in the key). The KPIs are read in the dbt step right after dbt (assets/transformation.py); the alerts
run after it, as their own checks.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from clickhouse_connect.driver.client import Client
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Config,
    Definitions,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from revops.core.warehouse import connect
from revops.reporting.money import to_major

DAILY_METRICS = AssetKey(["marts", "fct_saas_metrics_daily"])
MONTHLY_METRICS = AssetKey(["marts", "fct_saas_metrics_monthly"])
RECOVERY_CURVES = AssetKey(["marts", "fct_recovery_curves"])
PAYOUT_RECONCILIATION = AssetKey(["marts", "fct_payout_reconciliation"])
INVOICE_RECONCILIATION = AssetKey(["marts", "fct_invoice_reconciliation"])

RECOVERY_HORIZON_DAYS = 30
OPEN_FLAGS = "open reconciliation flags"


def _major(amount: int | None, currency: str) -> float | None:
    value = to_major(amount, currency)
    return None if value is None else float(value)


def _daily_kpis(client: Client) -> dict[str, Any]:
    rows = client.query(
        "SELECT workspace_id, argMax(tuple(reporting_currency, mrr, arr, paying_customers), metric_date) "
        "FROM marts.fct_saas_metrics_daily GROUP BY workspace_id ORDER BY workspace_id"
    ).result_rows
    metadata: dict[str, Any] = {}
    for workspace, (currency, mrr, arr, customers) in rows:
        metadata[f"{workspace}: MRR ({currency})"] = MetadataValue.float(_major(mrr, currency))
        metadata[f"{workspace}: ARR ({currency})"] = MetadataValue.float(_major(arr, currency))
        metadata[f"{workspace}: paying customers"] = MetadataValue.int(customers)
    return metadata


def waterfall_markdown(rows: Iterable[dict[str, Any]]) -> str:
    """This month's movement waterfall per workspace, as a markdown table."""
    lines = [
        "| workspace | month | currency | starting MRR | new | expansion | reactivation | contraction "
        "| churn (voluntary) | churn (involuntary) | MRR |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    columns = (
        "starting_mrr",
        "new_mrr",
        "expansion_mrr",
        "reactivation_mrr",
        "contraction_mrr",
        "voluntary_churn_mrr",
        "involuntary_churn_mrr",
        "mrr",
    )
    for row in rows:
        currency = row["reporting_currency"]
        amounts = " | ".join(f"{to_major(row[column], currency):,}" for column in columns)
        month = f"{row['metric_month']:%Y-%m}" + ("" if row["is_complete_month"] else " (to date)")
        lines.append(f"| {row['workspace_id']} | {month} | {currency} | {amounts} |")
    return "\n".join(lines)


def _monthly_kpis(client: Client) -> dict[str, Any]:
    latest = list(
        client.query(
            "SELECT * FROM marts.fct_saas_metrics_monthly ORDER BY workspace_id, metric_month DESC "
            "LIMIT 1 BY workspace_id"
        ).named_results()
    )
    complete = client.query(
        "SELECT workspace_id, argMax(nrr, metric_month), argMax(logo_churn_rate, metric_month) "
        "FROM marts.fct_saas_metrics_monthly WHERE is_complete_month "
        "GROUP BY workspace_id ORDER BY workspace_id"
    ).result_rows
    metadata: dict[str, Any] = {"this month's waterfall": MetadataValue.md(waterfall_markdown(latest))}
    for workspace, nrr, churn in complete:
        if nrr is not None:
            metadata[f"{workspace}: NRR (last complete month)"] = MetadataValue.float(nrr)
        if churn is not None:
            metadata[f"{workspace}: customer churn (last complete month)"] = MetadataValue.float(churn)
    return metadata


def recovery_rates(client: Client) -> dict[str, tuple[float | None, int]]:
    """Per workspace, the share of failed-payment episodes recovered within 30 days, and how many
    episodes are old enough to tell."""
    rows = client.query(
        "SELECT workspace_id, recovered_share, matured_episodes FROM marts.fct_recovery_curves "
        "WHERE cohort_month IS NULL AND dunning_cohort = 'all' AND days_since_failure = {d:UInt32}",
        parameters={"d": RECOVERY_HORIZON_DAYS},
    ).result_rows
    return {workspace: (share, matured) for workspace, share, matured in rows}


def _recovery_kpis(client: Client) -> dict[str, Any]:
    return {
        f"{workspace}: recovery rate ({RECOVERY_HORIZON_DAYS} days)": MetadataValue.float(share)
        for workspace, (share, _) in sorted(recovery_rates(client).items())
        if share is not None
    }


def open_flags(client: Client, table: str) -> dict[str, int]:
    return dict(
        client.query(
            f"SELECT workspace_id, countIf(is_flagged) FROM marts.{table} GROUP BY workspace_id"
        ).result_rows
    )


def _payout_kpis(client: Client) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        f"{workspace}: {OPEN_FLAGS}": MetadataValue.int(count)
        for workspace, count in sorted(open_flags(client, "fct_payout_reconciliation").items())
    }
    for workspace, currency, amount in client.query(
        "SELECT workspace_id, currency, sum(deposit_amount) FROM marts.fct_payout_reconciliation "
        "WHERE reconciliation_status = 'unexplained_deposit' GROUP BY workspace_id, currency "
        "ORDER BY workspace_id, currency"
    ).result_rows:
        metadata[f"{workspace}: unexplained cash ({currency})"] = MetadataValue.float(
            _major(amount, currency)
        )
    return metadata


def _invoice_kpis(client: Client) -> dict[str, Any]:
    return {
        f"{workspace}: {OPEN_FLAGS}": MetadataValue.int(count)
        for workspace, count in sorted(open_flags(client, "fct_invoice_reconciliation").items())
    }


KPI_READERS = {
    DAILY_METRICS: _daily_kpis,
    MONTHLY_METRICS: _monthly_kpis,
    RECOVERY_CURVES: _recovery_kpis,
    PAYOUT_RECONCILIATION: _payout_kpis,
    INVOICE_RECONCILIATION: _invoice_kpis,
}


def kpi_metadata(client: Client, keys: Iterable[AssetKey]) -> dict[AssetKey, dict[str, Any]]:
    """KPI metadata for those of `keys` that people watch."""
    return {key: KPI_READERS[key](client) for key in keys if key in KPI_READERS}


class KpiAlertConfig(Config):
    """Thresholds of the business alerts (set them in the launchpad or a job's run config)."""

    max_new_reconciliation_flags: int = 0
    """Warn when more flags are open than at the mart's previous materialization, by more than this."""
    recovery_rate_floor: float = 0.5
    """Warn when a workspace recovers less than this share of failed payments within 30 days…"""
    min_matured_episodes: int = 10
    """…over at least this many episodes old enough to tell (fewer say nothing)."""
    max_mrr_drop_percent: float = 10.0
    """Warn when a workspace's MRR fell by more than this over the trailing window."""
    mrr_drop_window_days: int = 30


def _previous_flags(context: AssetCheckExecutionContext, key: AssetKey) -> dict[str, int]:
    """Open flags per workspace at the materialization before the latest one (empty if none)."""
    records = context.instance.fetch_materializations(key, limit=2).records
    if len(records) < 2:
        return {}
    metadata = records[1].asset_materialization.metadata if records[1].asset_materialization else {}
    return {
        name.split(": ")[0]: int(value.value)
        for name, value in metadata.items()
        if name.endswith(f": {OPEN_FLAGS}")
    }


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "no_new_reconciliation_flags",
            asset=key,
            description=(
                "Warns when more reconciliation exceptions are open than at the previous build, by more than "
                "max_new_reconciliation_flags (KpiAlertConfig)."
            ),
        )
        for key in (PAYOUT_RECONCILIATION, INVOICE_RECONCILIATION)
    ],
    can_subset=True,
)
def no_new_reconciliation_flags(
    context: AssetCheckExecutionContext, config: KpiAlertConfig
) -> Iterator[AssetCheckResult]:
    tables = {
        PAYOUT_RECONCILIATION: "fct_payout_reconciliation",
        INVOICE_RECONCILIATION: "fct_invoice_reconciliation",
    }
    with connect() as client:
        current = {key: open_flags(client, table) for key, table in tables.items()}
    for check_key in context.selected_asset_check_keys:
        key = check_key.asset_key
        previous = _previous_flags(context, key)
        new = {ws: count - previous.get(ws, count) for ws, count in current[key].items()}
        offending = {ws: n for ws, n in new.items() if n > config.max_new_reconciliation_flags}
        yield AssetCheckResult(
            asset_key=key,
            check_name="no_new_reconciliation_flags",
            passed=not offending,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "open flags": MetadataValue.json(current[key]),
                "new since the previous build": MetadataValue.json(new),
                "threshold": MetadataValue.int(config.max_new_reconciliation_flags),
            },
        )


@asset_check(
    asset=RECOVERY_CURVES,
    description=(
        "Warns when a workspace recovers less than recovery_rate_floor of its failed payments within 30 days "
        "(over at least min_matured_episodes episodes; KpiAlertConfig)."
    ),
)
def recovery_rate_above_floor(config: KpiAlertConfig) -> AssetCheckResult:
    with connect() as client:
        rates = recovery_rates(client)
    below = {
        ws: share
        for ws, (share, matured) in rates.items()
        if share is not None and matured >= config.min_matured_episodes and share < config.recovery_rate_floor
    }
    return AssetCheckResult(
        passed=not below,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "recovery rates": MetadataValue.json({ws: share for ws, (share, _) in rates.items()}),
            "episodes old enough": MetadataValue.json({ws: matured for ws, (_, matured) in rates.items()}),
            "below the floor": MetadataValue.json(below),
            "floor": MetadataValue.float(config.recovery_rate_floor),
        },
    )


@asset_check(
    asset=DAILY_METRICS,
    description=(
        "Warns when a workspace's MRR fell by more than max_mrr_drop_percent over the last "
        "mrr_drop_window_days days (KpiAlertConfig)."
    ),
)
def mrr_drop_within_limit(config: KpiAlertConfig) -> AssetCheckResult:
    with connect() as client:
        rows = client.query(
            "SELECT workspace_id, argMax(mrr, metric_date) AS now, "
            "argMaxIf(mrr, metric_date, metric_date <= max_date - {days:UInt32}) AS before "
            "FROM (SELECT *, max(metric_date) OVER (PARTITION BY workspace_id) AS max_date "
            "      FROM marts.fct_saas_metrics_daily) GROUP BY workspace_id ORDER BY workspace_id",
            parameters={"days": config.mrr_drop_window_days},
        ).result_rows
    # No MRR a window ago (a young workspace): no change to judge.
    changes = {ws: None if not before else (now - before) / before * 100 for ws, now, before in rows}
    dropped = {
        ws: round(change, 2)
        for ws, change in changes.items()
        if change is not None and -change > config.max_mrr_drop_percent
    }
    return AssetCheckResult(
        passed=not dropped,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "MRR change, percent": MetadataValue.json(
                {ws: None if c is None else round(c, 2) for ws, c in changes.items()}
            ),
            "dropped beyond the limit": MetadataValue.json(dropped),
            "limit, percent": MetadataValue.float(config.max_mrr_drop_percent),
        },
    )


defs = Definitions(
    asset_checks=[no_new_reconciliation_flags, recovery_rate_above_floor, mrr_drop_within_limit]
)
