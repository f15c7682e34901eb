"""Ingestion assets: the raw tables dlt loads, one Dagster asset per table, one step per source."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
)

from revops.assets.quality import expectation_check_results, expectation_check_specs
from revops.assets.resources import ProviderAccountsResource, WarehouseResource
from revops.core.workspaces import Workspace
from revops.pipelines.loading import RAW_DATABASE
from revops.pipelines.plaid import PLAID_TABLES
from revops.pipelines.quickbooks import QUICKBOOKS_TABLES
from revops.pipelines.runner import (
    WorkspaceLoad,
    load_plaid,
    load_quickbooks,
    load_stripe,
    load_usage,
    load_xero,
)
from revops.pipelines.stripe.settings import (
    ENDPOINTS,
    INVOICE_LINE_ITEMS_TABLE,
    REJECTED_TABLE,
    SUBSCRIPTION_ITEMS_TABLE,
)
from revops.pipelines.usage import USAGE_TABLES
from revops.pipelines.xero import XERO_TABLES


@dataclass(frozen=True)
class IngestedSource:
    """A dlt source as Dagster sees it: which workspaces have it, what it loads, and how."""

    name: str
    provider: str
    """The Workspace field holding the provider account (stripe, plaid, quickbooks, xero)."""
    tables: tuple[str, ...]
    load: Callable[[Workspace], WorkspaceLoad]
    cron_schedule: str
    """How often the source's own job loads it (and rebuilds what depends on it)."""
    warn_after: timedelta
    fail_after: timedelta
    """Raw tables older than this fail their freshness policy: loads have stopped."""


STRIPE = IngestedSource(
    name="stripe",
    provider="stripe",
    tables=(
        *(endpoint.table for endpoint in ENDPOINTS),
        SUBSCRIPTION_ITEMS_TABLE,
        INVOICE_LINE_ITEMS_TABLE,
        REJECTED_TABLE,
    ),
    load=load_stripe,
    # Payment data drives dunning and reconciliation the same day: hourly, with room for one miss.
    cron_schedule="15 * * * *",
    warn_after=timedelta(hours=2),
    fail_after=timedelta(hours=6),
)
PLAID = IngestedSource(
    name="plaid",
    provider="plaid",
    tables=PLAID_TABLES,
    load=load_plaid,
    # Banks post a few times a day; reconciliation needs deposits the day they land.
    cron_schedule="40 */4 * * *",
    warn_after=timedelta(hours=8),
    fail_after=timedelta(hours=26),
)
# Books change when accountants work: daily is the cadence reconciliation with them needs.
QUICKBOOKS = IngestedSource(
    name="quickbooks",
    provider="quickbooks",
    tables=QUICKBOOKS_TABLES,
    load=load_quickbooks,
    cron_schedule="30 5 * * *",
    warn_after=timedelta(hours=26),
    fail_after=timedelta(hours=50),
)
XERO = IngestedSource(
    name="xero",
    provider="xero",
    tables=XERO_TABLES,
    load=load_xero,
    cron_schedule="35 5 * * *",
    warn_after=timedelta(hours=26),
    fail_after=timedelta(hours=50),
)
USAGE = IngestedSource(
    name="usage",
    provider="usage",
    tables=USAGE_TABLES,
    load=load_usage,
    # Usage feeds billing and customer dashboards; late events are expected and reprocessed by day.
    cron_schedule="25 * * * *",
    warn_after=timedelta(hours=2),
    fail_after=timedelta(hours=6),
)
SOURCES: tuple[IngestedSource, ...] = (STRIPE, PLAID, QUICKBOOKS, XERO, USAGE)


def raw_asset_key(table: str) -> AssetKey:
    """Raw tables and dbt models share one naming rule: [database, table]."""
    return AssetKey([RAW_DATABASE, table])


def source_assets(source: IngestedSource) -> AssetsDefinition:
    @multi_asset(
        name=f"{source.name}_raw",
        specs=[
            AssetSpec(
                raw_asset_key(table),
                group_name=f"{source.name}_raw",
                kinds={"dlt", source.name, "clickhouse"},
                description=f"{source.name} data landed by dlt in {RAW_DATABASE}.{table}, every workspace.",
                freshness_policy=FreshnessPolicy.time_window(
                    fail_window=source.fail_after, warn_window=source.warn_after
                ),
            )
            for table in source.tables
        ],
        check_specs=expectation_check_specs(source.tables),
    )
    def load_source(
        context: AssetExecutionContext, providers: ProviderAccountsResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        """Loads every workspace with this provider; one failing workspace does not stop the others."""
        with providers.open_registry() as registry:
            loads = [source.load(workspace) for workspace in registry.with_provider(source.provider)]
        for table in source.tables:
            by_workspace = {load.workspace_id: load.rows_by_table.get(table, 0) for load in loads if load.ok}
            yield MaterializeResult(
                asset_key=raw_asset_key(table),
                metadata={
                    "rows_loaded": MetadataValue.int(sum(by_workspace.values())),
                    "rows_loaded_by_workspace": MetadataValue.json(by_workspace),
                },
            )
        # Validated in this step, before dbt: what fails a blocking expectation is quarantined and
        # so excluded from this run's models.
        yield from expectation_check_results(source.tables)
        for load in loads:
            rows = sum(load.rows_by_table.values())
            context.log.info(f"{source.name} {load.workspace_id}: {rows} rows in {load.elapsed_s:.1f}s")
        failures = [load.error for load in loads if load.error]
        if failures:
            raise Failure(description=f"{source.name} load failed for " + "; ".join(failures))

    return load_source


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


defs = Definitions(
    assets=[source_assets(source) for source in SOURCES],
    asset_checks=[no_rejected_stripe_records],
)
