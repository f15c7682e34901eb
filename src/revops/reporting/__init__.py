"""The HTML report: the metric marts as charts, one self-contained file per workspace (Dagster-free)."""

from revops.reporting.report import REPORT_CHARTS, render_report, report_tables, write_reports

__all__ = ["REPORT_CHARTS", "render_report", "report_tables", "write_reports"]
