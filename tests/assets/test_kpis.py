"""The KPI metadata, the table metadata and the business alerts, on the shared simulated warehouse."""

from __future__ import annotations

from dagster import AssetKey

from revops.assets.kpis import (
    DAILY_METRICS,
    MONTHLY_METRICS,
    PAYOUT_RECONCILIATION,
    RECOVERY_CURVES,
    KpiAlertConfig,
    kpi_metadata,
    mrr_drop_within_limit,
    recovery_rate_above_floor,
)
from revops.assets.table_metadata import table_metadata
from revops.core.warehouse import connect
from tests.conftest import SimulatedWarehouse


def test_kpis_equal_the_marts(simulated_warehouse: SimulatedWarehouse) -> None:
    keys = [DAILY_METRICS, MONTHLY_METRICS, RECOVERY_CURVES, PAYOUT_RECONCILIATION, AssetKey(["marts", "x"])]
    with simulated_warehouse.open(), connect() as client:
        kpis = kpi_metadata(client, keys)
        mrr = dict(
            client.query(
                "SELECT workspace_id, argMax(mrr, metric_date) FROM marts.fct_saas_metrics_daily "
                "GROUP BY workspace_id"
            ).result_rows
        )
        flags = dict(
            client.query(
                "SELECT workspace_id, countIf(is_flagged) FROM marts.fct_payout_reconciliation "
                "GROUP BY workspace_id"
            ).result_rows
        )
        unexplained = client.command(
            "SELECT sum(deposit_amount) FROM marts.fct_payout_reconciliation "
            "WHERE workspace_id = 'acme' AND reconciliation_status = 'unexplained_deposit'"
        )
    assert set(kpis) == set(keys[:-1])
    assert kpis[DAILY_METRICS]["acme: MRR (USD)"].value == mrr["acme"] / 100
    assert kpis[DAILY_METRICS]["globex: ARR (GBP)"].value == mrr["globex"] * 12 / 100
    assert kpis[PAYOUT_RECONCILIATION]["acme: open reconciliation flags"].value == flags["acme"]
    assert kpis[PAYOUT_RECONCILIATION]["acme: unexplained cash (USD)"].value == int(unexplained) / 100
    waterfall = kpis[MONTHLY_METRICS]["this month's waterfall"].value
    assert waterfall.count("\n| acme |") == 1 and "(to date)" in waterfall
    assert 0 <= kpis[RECOVERY_CURVES]["acme: recovery rate (30 days)"].value <= 1


def test_table_metadata_has_row_counts_and_typed_columns(simulated_warehouse: SimulatedWarehouse) -> None:
    key, view = AssetKey(["marts", "fct_saas_metrics_monthly"]), AssetKey(["marts", "usage_invoice_diff"])
    with simulated_warehouse.open(), connect() as client:
        metadata = table_metadata(client, [key, view])
        count = int(client.command("SELECT count() FROM marts.fct_saas_metrics_monthly"))
    assert metadata[key]["dagster/row_count"] == count
    columns = {column.name: column for column in metadata[key]["dagster/column_schema"].columns}
    assert columns["mrr"].type == "Int64" and columns["nrr"].type == "Nullable(Float64)"
    assert columns["nrr"].description  # the persisted dbt description
    assert "dagster/row_count" not in metadata[view]  # counting a view would run its query
    assert metadata[view]["dagster/column_schema"].columns


def test_alerts_warn_past_their_thresholds(simulated_warehouse: SimulatedWarehouse) -> None:
    with simulated_warehouse.open():
        strict = recovery_rate_above_floor(KpiAlertConfig(recovery_rate_floor=1.01, min_matured_episodes=1))
        lenient = recovery_rate_above_floor(KpiAlertConfig(recovery_rate_floor=0.0))
        # MRR cannot drop by more than 100 %; and with a limit of -1000 % every change is "too much".
        calm = mrr_drop_within_limit(KpiAlertConfig(max_mrr_drop_percent=100))
        alarmed = mrr_drop_within_limit(KpiAlertConfig(max_mrr_drop_percent=-1000))
    assert (strict.passed, lenient.passed, calm.passed, alarmed.passed) == (False, True, True, False)
    assert strict.severity.value == "WARN"
    assert set(alarmed.metadata["dropped beyond the limit"].value) == {"acme", "globex"}
