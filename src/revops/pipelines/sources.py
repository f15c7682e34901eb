"""The source registry: every provider revops loads, declared once.

A source is its folder (`pipelines/<name>/`: the dlt source, its registry account model, its raw-table
contracts), one `SourceSpec` in `SOURCES` below, and its dbt staging folder
(`dbt_project/models/staging/<name>/`). Everything else derives from `SOURCES`: the workspace
registry's sections, the runner, the Dagster ingestion assets, jobs, schedules and freshness policies,
the raw-table quality rules, the test loaders and the simulator's registry.
`tests/pipelines/test_source_registry.py` fails when a declared source lacks one of its parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import dlt
from dlt.extract.source import DltSource

from revops.core.workspaces import Account, WorkspaceRegistry, load_registry
from revops.pipelines import plaid, quickbooks, stripe, usage, xero
from revops.pipelines.plaid.settings import PlaidAccount
from revops.pipelines.quarantine import QUARANTINE_TABLE
from revops.pipelines.quickbooks.settings import QuickBooksAccount
from revops.pipelines.stripe.settings import ENDPOINTS, StripeAccount
from revops.pipelines.usage.settings import UsageAccount
from revops.pipelines.xero.settings import XeroAccount


@dataclass(frozen=True)
class SourceSpec:
    """One provider as revops loads it."""

    name: str
    """The registry section (`[workspaces.<id>.<name>]`), the dlt pipeline `<name>_<workspace>`, the
    Dagster group `<name>_raw` and job `load_<name>`, and the staging folder's name."""
    account: type[Account]
    """The model of the registry section: where the provider is and which account (secrets come from
    dlt: the environment or secrets.toml)."""
    build: Callable[[str, Any], DltSource]
    """(workspace id, its account) → the dlt source loading it."""
    declare_tables: Callable[[dlt.Schema], None]
    """Declares the raw-table contracts (columns staging reads, keys) in a dlt schema."""
    rewind: Callable[[dict[str, Any], datetime], None]
    """(the source's dlt resource states, a moment) → those states with the cursors moved back to the
    moment (changed in place): what `revops backfill --since` does, in the source's own terms."""
    cron_schedule: str
    """How often the source's own job loads it (and rebuilds what depends on it)."""
    warn_after: timedelta
    fail_after: timedelta
    """Raw tables older than this fail their freshness policy: loads have stopped."""
    currency_case: Literal["lower", "upper"] = "upper"
    """How the provider writes ISO 4217 codes (quality rules)."""
    minor_units: bool = False
    """Amounts are integers in the currency's minor unit (else decimals in major units)."""
    epoch_columns: tuple[str, ...] = ()
    """Unix-seconds timestamp columns (bigint) to range-check."""
    money_columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per table, money columns beyond those the naming rule finds (quality/rules.py)."""
    non_negative: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per table, money columns the provider documents as never negative."""
    refetch: Callable[[str, Any, list[tuple[str, str, str | None]]], DltSource] | None = None
    """(workspace id, its account, [(raw table, record id, payload)]) → a dlt source fetching those
    records again from the provider: valid ones land in their tables, invalid ones back in the
    quarantine (stage `extract`). For sources that reject records as they extract them."""

    followup: Callable[[str, Any], DltSource | None] | None = None
    """(workspace id, its account) → after each load, a dlt source loading what the loaded rows
    reference but raw lacks (read from raw once the load has landed), or None when nothing is
    missing; it runs in the same pipeline."""

    def schema(self) -> dlt.Schema:
        """A dlt schema holding exactly this source's declared raw tables."""
        schema = dlt.Schema(self.name)
        self.declare_tables(schema)
        return schema

    @cached_property
    def tables(self) -> tuple[str, ...]:
        """The raw tables this source lands (one Dagster asset each); not the quarantine it may also
        write its rejections to, which every source shares."""
        return tuple(
            table["name"] for table in self.schema().data_tables() if table["name"] != QUARANTINE_TABLE
        )

    def source_for(self, workspace_id: str, account: Account) -> DltSource:
        if not isinstance(account, self.account):
            raise TypeError(
                f"workspace {workspace_id!r}: a {self.name} account must be {self.account.__name__}"
            )
        return self.build(workspace_id, account)


STRIPE = SourceSpec(
    name="stripe",
    account=StripeAccount,
    build=stripe.stripe_source_for,
    declare_tables=stripe.declare_tables,
    rewind=stripe.rewind,
    # Payment data drives dunning and reconciliation the same day: hourly, with room for one miss.
    cron_schedule="15 * * * *",
    warn_after=timedelta(hours=2),
    fail_after=timedelta(hours=6),
    currency_case="lower",
    minor_units=True,
    epoch_columns=("created",),
    refetch=stripe.refetch_source_for,
    # Customers deleted before the events' 30 days: no list or event shows them; retrieve does.
    followup=stripe.referenced_customers_source_for,
    money_columns={endpoint.table: frozenset(endpoint.money_fields) for endpoint in ENDPOINTS},
    non_negative={
        "stripe_charges": frozenset({"amount", "amount_captured", "amount_refunded"}),
        "stripe_payment_intents": frozenset({"amount", "amount_received"}),
        "stripe_refunds": frozenset({"amount"}),
        "stripe_disputes": frozenset({"amount"}),
        "stripe_prices": frozenset({"unit_amount"}),
        "stripe_invoices": frozenset({"amount_due", "amount_paid", "amount_remaining"}),
        "stripe_invoice_payments": frozenset({"amount_paid", "amount_requested"}),
    },
)
PLAID = SourceSpec(
    name="plaid",
    account=PlaidAccount,
    build=plaid.plaid_source_for,
    declare_tables=plaid.declare_tables,
    rewind=plaid.rewind,
    # Banks post a few times a day; reconciliation needs deposits the day they land.
    cron_schedule="40 */4 * * *",
    warn_after=timedelta(hours=8),
    fail_after=timedelta(hours=26),
)
# Books change when accountants work: daily is the cadence reconciliation with them needs.
QUICKBOOKS = SourceSpec(
    name="quickbooks",
    account=QuickBooksAccount,
    build=quickbooks.quickbooks_source_for,
    declare_tables=quickbooks.declare_tables,
    rewind=quickbooks.rewind,
    cron_schedule="30 5 * * *",
    warn_after=timedelta(hours=26),
    fail_after=timedelta(hours=50),
    non_negative={
        "qbo_invoices": frozenset({"total_amt", "balance"}),
        "qbo_payments": frozenset({"total_amt", "unapplied_amt"}),
        "qbo_credit_memos": frozenset({"total_amt", "balance", "remaining_credit"}),
        "qbo_refund_receipts": frozenset({"total_amt"}),
    },
)
XERO = SourceSpec(
    name="xero",
    account=XeroAccount,
    build=xero.xero_source_for,
    declare_tables=xero.declare_tables,
    rewind=xero.rewind,
    cron_schedule="35 5 * * *",
    warn_after=timedelta(hours=26),
    fail_after=timedelta(hours=50),
    non_negative={
        "xero_invoices": frozenset({"total", "amount_due", "amount_paid", "amount_credited"}),
        "xero_payments": frozenset({"amount"}),
        "xero_credit_notes": frozenset({"total", "remaining_credit"}),
        "xero_overpayments": frozenset({"total", "remaining_credit"}),
        "xero_prepayments": frozenset({"total", "remaining_credit"}),
    },
)
USAGE = SourceSpec(
    name="usage",
    account=UsageAccount,
    build=usage.usage_source_for,
    declare_tables=usage.declare_tables,
    rewind=usage.rewind,
    # Usage feeds billing and customer dashboards; late events are expected and reprocessed by day.
    cron_schedule="25 * * * *",
    warn_after=timedelta(hours=2),
    fail_after=timedelta(hours=6),
)

SOURCES: tuple[SourceSpec, ...] = (STRIPE, PLAID, QUICKBOOKS, XERO, USAGE)


def source_named(name: str, sources: Sequence[SourceSpec] = SOURCES) -> SourceSpec:
    for source in sources:
        if source.name == name:
            return source
    raise KeyError(f"no source named {name!r}; sources: {', '.join(s.name for s in sources)}")


def account_models(sources: Sequence[SourceSpec] = SOURCES) -> dict[str, type[Account]]:
    """Registry section name → its model, for `revops.core.workspaces.load_registry`."""
    return {source.name: source.account for source in sources}


def load_workspace_registry(path: Path, sources: Sequence[SourceSpec] = SOURCES) -> WorkspaceRegistry:
    return load_registry(path, account_models(sources))
