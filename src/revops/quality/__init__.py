"""Data quality on the raw tables: expectation suites derived from the source contracts, run with
Great Expectations, and the quarantine that keeps records failing a blocking expectation out of dbt.

Dagster-free: `validate_raw_tables()` runs from a script, a test or an asset check alike.
"""

from revops.quality.quarantine import QUARANTINE_TABLE, ensure_quarantine_table
from revops.quality.rules import RAW_TABLE_RULES, TableRules
from revops.quality.validation import TableValidation, validate_raw_tables, validate_tables

__all__ = [
    "QUARANTINE_TABLE",
    "RAW_TABLE_RULES",
    "TableRules",
    "TableValidation",
    "ensure_quarantine_table",
    "validate_raw_tables",
    "validate_tables",
]
