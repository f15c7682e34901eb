"""Ingestion assets: the raw tables dlt loads, one Dagster asset per table."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
)

from assets.resources import ProviderAccountsResource, WarehouseResource
from pipelines.loading import RAW_DATABASE
from pipelines.runner import load_stripe
from pipelines.stripe.settings import (
    ENDPOINTS,
    INVOICE_LINE_ITEMS_TABLE,
    REJECTED_TABLE,
    SUBSCRIPTION_ITEMS_TABLE,
)

STRIPE_TABLES: tuple[str, ...] = (
    *(endpoint.table for endpoint in ENDPOINTS),
    SUBSCRIPTION_ITEMS_TABLE,
    INVOICE_LINE_ITEMS_TABLE,
    REJECTED_TABLE,
)


def raw_asset_key(table: str) -> AssetKey:
    """Raw tables and dbt models share one naming rule: [database, table]."""
    return AssetKey([RAW_DATABASE, table])


@multi_asset(
    name="stripe_raw",
    specs=[
        AssetSpec(
            raw_asset_key(table),
            group_name="stripe_raw",
            kinds={"dlt", "stripe", "clickhouse"},
            description=f"Stripe objects landed by dlt in {RAW_DATABASE}.{table}, every workspace.",
        )
        for table in STRIPE_TABLES
    ],
)
def stripe_raw(
    context: AssetExecutionContext, providers: ProviderAccountsResource
) -> Iterator[MaterializeResult]:
    """Loads every workspace's Stripe account; one failing workspace does not stop the others."""
    with providers.open_registry() as registry:
        loads = [load_stripe(workspace) for workspace in registry.with_stripe()]
    for table in STRIPE_TABLES:
        by_workspace = {load.workspace_id: load.rows_by_table.get(table, 0) for load in loads if load.ok}
        yield MaterializeResult(
            asset_key=raw_asset_key(table),
            metadata={
                "rows_loaded": MetadataValue.int(sum(by_workspace.values())),
                "rows_loaded_by_workspace": MetadataValue.json(by_workspace),
            },
        )
    for load in loads:
        context.log.info(
            f"stripe {load.workspace_id}: {sum(load.rows_by_table.values())} rows in {load.elapsed_s:.1f}s"
        )
    failures = [load.error for load in loads if load.error]
    if failures:
        raise Failure(description="Stripe load failed for " + "; ".join(failures))


@asset_check(asset=raw_asset_key(REJECTED_TABLE), description="No Stripe record was rejected as malformed.")
def no_rejected_stripe_records(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.get_client() as client:
        rejected = list(
            client.query(
                "SELECT workspace_id, resource, reason, count() AS records, "
                "any(object_id) AS sample_object_id "
                f"FROM {RAW_DATABASE}.{REJECTED_TABLE} FINAL GROUP BY workspace_id, resource, reason "
                "ORDER BY workspace_id, resource, reason"
            ).named_results()
        )
    return AssetCheckResult(
        passed=not rejected,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "rejected_records": MetadataValue.int(sum(row["records"] for row in rejected)),
            "by_reason": MetadataValue.json(rejected),
        },
    )


defs = Definitions(assets=[stripe_raw], asset_checks=[no_rejected_stripe_records])
