"""The HTML report as a Dagster asset: rebuilt after the marts it reads (src/revops/reporting)."""

from dagster import AssetKey, Definitions, MaterializeResult, MetadataValue, asset

from revops.core.settings import get_settings
from revops.reporting import report_tables, write_reports

REPORT_KEY = AssetKey(["reports", "html"])


@asset(
    key=REPORT_KEY,
    deps=[AssetKey(["marts", table]) for table in sorted(report_tables())],
    group_name="metrics",
    owners=["team:revops"],
    description="One self-contained HTML report per workspace in REVOPS_HOME/reports (docs/bi.md).",
)
def html_reports() -> MaterializeResult:
    written = write_reports(get_settings().home / "reports")
    return MaterializeResult(
        metadata={
            "workspaces": MetadataValue.int(len(written)),
            **{workspace: MetadataValue.path(str(path)) for workspace, path in written.items()},
        }
    )


defs = Definitions(assets=[html_reports])
