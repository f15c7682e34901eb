"""Sales tax and VAT: the tax rates of each account and the tax on every invoice line.

Acme (US) charges tax on top of its prices with Stripe Tax (automatic tax): US sales tax by state
where software-as-a-service is taxable, nothing where it is not, nothing for exempt customers, and
reverse charge for its EU business customers. Globex (UK) quotes prices with VAT included and applies
its own (manual) tax rate to UK customers; it replaced that rate at the start of the 2026/27 tax year,
archiving the old one. Tax is computed on each line after its discount, rounded half away from zero
per line, as Stripe does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from revops_simulator.business.clock import DAY, HOUR, day_start
from revops_simulator.business.entities import (
    Customer,
    History,
    Invoice,
    LineTax,
    Subscription,
    TaxRate,
    Timeline,
)
from revops_simulator.business.seeding import make_id, stream
from revops_simulator.business.tenants import FOUNDED, Tenant

EXEMPT_SHARE = 0.08
"""US customers with a resale or non-profit exemption certificate (tax_exempt = exempt)."""

# (percentage, jurisdiction, jurisdiction level); 0 where SaaS is not subject to sales tax.
US_SALES_TAX: dict[str, tuple[str, str, str]] = {
    "NY": ("8.875", "NEW YORK CITY", "multiple"),
    "TX": ("6.25", "TEXAS", "state"),
    "WA": ("10.25", "SEATTLE", "multiple"),
    "MA": ("6.25", "MASSACHUSETTS", "state"),
    "CA": ("0", "CALIFORNIA", "state"),
    "IL": ("0", "ILLINOIS", "state"),
    "CO": ("0", "COLORADO", "state"),
}
UK_VAT = "20"
UK_RATE_SWITCH = date(2026, 4, 6)
"""Globex archives its first VAT rate and creates a new one at the start of the UK tax year."""


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exclusive_tax(amount: int, percentage: Decimal) -> int:
    return _round(Decimal(amount) * percentage / 100)


def inclusive_tax(amount: int, percentage: Decimal) -> int:
    """The tax contained in a tax-inclusive `amount`."""
    return amount - _round(Decimal(amount) * 100 / (100 + percentage))


@dataclass
class Taxes:
    tenant: Tenant
    seed: int
    history: History

    def __post_init__(self) -> None:
        self.inclusive = self.tenant.country != "US"
        self.automatic = not self.inclusive
        self.rates: dict[tuple[str, str | None], TaxRate] = {}
        self.vat_rates: tuple[TaxRate, TaxRate] | None = None
        created = day_start(FOUNDED) + HOUR
        if self.automatic:
            for state, (percentage, jurisdiction, level) in US_SALES_TAX.items():
                self.rates["US", state] = self._rate(
                    f"US-{state}",
                    created,
                    "Sales Tax",
                    None,
                    percentage,
                    "US",
                    state,
                    jurisdiction,
                    level,
                    "sales_tax",
                )
            for region in self.tenant.regions.get("eur", ()):
                self.rates[region.country, None] = self._rate(
                    f"{region.country}-reverse",
                    created,
                    "VAT",
                    "Reverse charge",
                    "0",
                    region.country,
                    None,
                    region.country,
                    "country",
                    "vat",
                )
        else:
            old = self._rate("GB-vat", created, "VAT", "UK VAT", UK_VAT, "GB", None, "GB", "country", "vat")
            switch = day_start(UK_RATE_SWITCH)
            new = self._rate(
                "GB-vat-2026",
                switch - DAY,
                "VAT",
                "UK VAT (standard rate)",
                UK_VAT,
                "GB",
                None,
                "GB",
                "country",
                "vat",
            )
            old.active.set(switch, False)
            self.history.record(switch, old, "updated", requested=True)
            self.vat_rates = (old, new)

    def _rate(
        self,
        key: str,
        created: int,
        display_name: str,
        description: str | None,
        percentage: str,
        country: str,
        state: str | None,
        jurisdiction: str,
        level: str,
        tax_type: str,
    ) -> TaxRate:
        rate = TaxRate(
            id=make_id("txr_", self.seed, self.tenant.id, "tax-rate", key),
            created=created,
            display_name=display_name,
            description=description,
            percentage=Decimal(percentage),
            inclusive=self.inclusive,
            country=country,
            state=state,
            jurisdiction=jurisdiction,
            jurisdiction_level=level,
            tax_type=tax_type,
            active=Timeline(True),
        )
        self.history.tax_rates.append(rate)
        self.history.record(created, rate, "created", requested=self.inclusive)
        return rate

    # --- customers and subscriptions ---

    def classify(self, customer: Customer) -> None:
        """The customer's tax status, from a stream of its own (the journey's draws do not move)."""
        if not self.automatic:
            return
        if customer.country != "US":
            customer.tax_exempt = "reverse"
        elif stream(self.seed, self.tenant.id, "tax-exempt", customer.id).random() < EXEMPT_SHARE:
            customer.tax_exempt = "exempt"

    def subscribe(self, subscription: Subscription) -> None:
        """Manual tax: the VAT rate in force becomes the subscription's default tax rate."""
        if self.vat_rates is None or subscription.customer.country != "GB":
            return
        old, new = self.vat_rates
        subscription.tax_rate.set(subscription.created, old if old.active.at(subscription.created) else new)

    def _vat_rate(self, invoice: Invoice) -> TaxRate | None:
        assert self.vat_rates is not None
        subscription = invoice.subscription
        rate = subscription.tax_rate.at(invoice.created)
        old, new = self.vat_rates
        if rate is old and not old.active.at(invoice.created):
            # The merchant moved its live subscriptions onto the new rate when it archived the old.
            switch = day_start(UK_RATE_SWITCH)
            subscription.tax_rate.set(switch, new)
            self.history.record(switch, subscription, "updated", requested=True)
            rate = new
        return rate

    # --- invoices ---

    def apply(self, invoice: Invoice) -> None:
        """Set the tax of every line of `invoice` (after its discounts)."""
        invoice.automatic_tax = self.automatic
        customer = invoice.customer
        if self.automatic:
            rate = self.rates.get((customer.country, customer.state if customer.country == "US" else None))
            if rate is None:
                return
            if customer.tax_exempt == "reverse":
                reason = "reverse_charge"
            elif customer.tax_exempt == "exempt":
                reason = "customer_exempt"
            elif rate.percentage == 0:
                reason = "not_subject_to_tax"
            else:
                reason = "standard_rated"
        else:
            vat = self._vat_rate(invoice)
            if vat is None:
                return
            rate, reason = vat, "standard_rated"
        for line in invoice.lines:
            taxable = line.amount - line.discount_amount
            if reason != "standard_rated":
                line.tax = LineTax(rate, 0, 0, reason, 0)
            elif rate.inclusive:
                tax = inclusive_tax(taxable, rate.percentage)
                line.tax = LineTax(
                    rate, tax, taxable - tax, reason, inclusive_tax(line.amount, rate.percentage)
                )
            else:
                line.tax = LineTax(rate, exclusive_tax(taxable, rate.percentage), taxable, reason, 0)
