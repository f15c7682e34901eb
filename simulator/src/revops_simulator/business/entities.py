"""The simulated businesses' records and how each changes over time.

An entity carries its whole known lifecycle, including what is already scheduled beyond the clock
(a retry next week, a payout landing tomorrow). Whoever looks at it asks for its state at an
instant, and whatever has not happened by then is masked, so one generated history answers for any
clock position up to the horizon it was generated for.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from revops_simulator.business.declines import Decline
from revops_simulator.business.tenants import Interval, PlanSpec
from revops_simulator.business.usage import Tier

T = TypeVar("T")

_BEGINNING = -(2**62)


class Timeline(Generic[T]):
    """A value that changes at known instants; `at(t)` is the value in force at `t`."""

    __slots__ = ("_times", "_values")

    def __init__(self, initial: T) -> None:
        self._times = [_BEGINNING]
        self._values = [initial]

    def set(self, t: int, value: T) -> None:
        # Changes may be recorded out of order (a dunning outcome is known before the seat change
        # that happens earlier in the same period is generated), so insert in time order.
        index = bisect_left(self._times, t)
        if index < len(self._times) and self._times[index] == t:
            self._values[index] = value
        else:
            self._times.insert(index, t)
            self._values.insert(index, value)

    def at(self, t: int) -> T:
        return self._values[bisect_right(self._times, t) - 1]


def seen(ts: int | None, t: int) -> int | None:
    """A one-off timestamp as an observer at `t` knows it: None while still in the future."""
    return ts if ts is not None and ts <= t else None


@dataclass(eq=False)
class Product:
    id: str
    created: int
    name: str
    description: str
    unit_label: str | None
    active: Timeline[bool]
    default_price: Timeline[str | None]
    updated: Timeline[int]


@dataclass(eq=False)
class Price:
    id: str
    created: int
    product: Product
    plan: PlanSpec
    currency: str
    interval: Interval
    unit_amount: int
    active: Timeline[bool]
    tiers: tuple[Tier, ...] = ()
    """Graduated tiers of a metered price (billed in arrears on usage); empty for a licensed price."""
    meter: str | None = None
    """The usage meter (slug) a metered price bills; it names it in the price's metadata."""

    @property
    def metered(self) -> bool:
        return bool(self.tiers)

    @property
    def lookup_key(self) -> str:
        return f"{self.plan.key}_{self.interval}ly_{self.currency}_{self.unit_amount}"

    @property
    def nickname(self) -> str:
        cadence = "monthly" if self.interval == "month" else "annual"
        return f"{self.plan.name} {cadence} ({self.currency.upper()})"


@dataclass(eq=False)
class PaymentMethod:
    id: str
    created: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    country: str
    fingerprint: str
    customer: Customer | None = None
    """The customer the card is attached to (since `created`), until `detached_at`."""
    detached_at: int | None = None
    """When a replacement card took its place (Stripe detaches the old one: `customer` null)."""
    renewals: list[tuple[int, int, int]] = field(default_factory=list)
    """(when, exp_month, exp_year): the card account updater's new expiry for a reissued card."""

    def expiry_at(self, t: int) -> tuple[int, int]:
        """(exp_month, exp_year) in force at `t`."""
        current = (self.exp_month, self.exp_year)
        for at, month, year in self.renewals:
            if at <= t:
                current = (month, year)
        return current


@dataclass(eq=False)
class Customer:
    id: str
    created: int
    name: str
    email: str
    phone: str
    line1: str
    city: str
    state: str | None
    postal_code: str
    country: str
    locale: str
    invoice_prefix: str
    signup_channel: str
    currency: Timeline[str | None]
    balance: Timeline[int]
    """Credit carried to the next invoice (negative), as Stripe's customer balance."""
    delinquent: Timeline[bool]
    payment_method: Timeline[PaymentMethod]
    next_invoice_sequence: Timeline[int]
    tax_exempt: str = "none"
    """Stripe's `tax_exempt`: "none", "exempt" (no tax) or "reverse" (the buyer self-assesses VAT)."""
    deleted_at: int | None = None
    """When the merchant deleted the customer: retrieve answers Stripe's deleted stub, lists omit it."""


@dataclass(eq=False)
class SubscriptionItem:
    id: str
    created: int
    subscription: Subscription
    price: Timeline[Price]
    quantity: Timeline[int]
    period: Timeline[tuple[int, int]]


@dataclass(eq=False)
class Subscription:
    id: str
    created: int
    customer: Customer
    currency: str
    billing_cycle_anchor: int
    trial_start: int | None
    trial_end: int | None
    status: Timeline[str]
    latest_invoice: Timeline[Invoice | None]
    items: list[SubscriptionItem] = field(default_factory=list)
    canceled_at: int | None = None
    """When cancellation was requested (Stripe keeps the request time, not the end of service)."""
    cancel_at: int | None = None
    """Set when the cancellation takes effect at period end."""
    ended_at: int | None = None
    cancellation_reason: str | None = None
    cancellation_feedback: str | None = None
    discount: Discount | None = None
    """The coupon redeemed on the subscription (business/discounts.py), while its duration lasts."""
    tax_rate: Timeline[TaxRate | None] = field(default_factory=lambda: Timeline(None))
    """The manual tax rate in force (`default_tax_rates`) when the account taxes by hand (business/tax.py)."""


@dataclass(eq=False)
class InvoiceLine:
    id: str
    invoice: Invoice
    item: SubscriptionItem | None
    """The subscription item billed; None on a one-off invoice's line (an invoice item)."""
    price: Price | None
    """None on a one-off line the merchant entered as an amount."""
    quantity: int
    amount: int
    description: str
    period_start: int
    period_end: int
    proration: bool
    credited: tuple[str, str] | None
    """(invoice id, line id) that originally charged for the time a proration credit gives back."""
    discount_amount: int = 0
    """What the invoice's discount takes off this line (before tax)."""
    tax: LineTax | None = None
    """The tax on this line (after discount); None when the account computes no tax for it."""

    @property
    def exclusive_tax(self) -> int:
        return self.tax.amount if self.tax is not None and not self.tax.rate.inclusive else 0

    @property
    def inclusive_tax(self) -> int:
        return self.tax.amount if self.tax is not None and self.tax.rate.inclusive else 0


@dataclass(frozen=True, eq=False)
class LineTax:
    """One line's tax as Stripe reports it (`taxes[]`): the rate, why, and on what amount."""

    rate: TaxRate
    amount: int
    taxable_amount: int
    taxability_reason: str
    undiscounted: int
    """The inclusive tax the line's amount would carry without its discount (for `subtotal_excluding_tax`)."""


@dataclass(eq=False)
class TaxRate:
    """A Stripe `tax_rate`: one the merchant created (manual tax) or one Stripe Tax reports with."""

    id: str
    created: int
    display_name: str
    description: str | None
    percentage: Decimal
    inclusive: bool
    country: str
    state: str | None
    jurisdiction: str
    jurisdiction_level: str
    tax_type: str
    active: Timeline[bool]


@dataclass(eq=False)
class Coupon:
    id: str
    created: int
    name: str
    duration: Literal["once", "repeating", "forever"]
    duration_in_months: int | None = None
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    """The currency of an `amount_off` coupon (it applies only to invoices in that currency)."""
    redeem_by: int | None = None
    max_redemptions: int | None = None
    deleted_at: int | None = None
    redemptions: list[int] = field(default_factory=list)
    """When each redemption happened, in the order they were generated."""

    def times_redeemed(self, t: int) -> int:
        return sum(1 for at in self.redemptions if at <= t)

    def redeemable(self, t: int) -> bool:
        if self.created > t or (self.deleted_at is not None and self.deleted_at <= t):
            return False
        if self.redeem_by is not None and self.redeem_by <= t:
            return False
        return self.max_redemptions is None or self.times_redeemed(t) < self.max_redemptions

    def valid(self, t: int) -> bool:
        # Stripe: "Taking account of the above properties, whether this coupon can still be applied".
        return self.redeemable(t)


@dataclass(eq=False)
class PromotionCode:
    id: str
    created: int
    code: str
    coupon: Coupon
    expires_at: int | None
    active: Timeline[bool]
    max_redemptions: int | None = None
    first_time_transaction: bool = False
    redemptions: list[int] = field(default_factory=list)

    def times_redeemed(self, t: int) -> int:
        return sum(1 for at in self.redemptions if at <= t)

    def usable(self, t: int) -> bool:
        if self.created > t or not self.active.at(t) or not self.coupon.redeemable(t):
            return False
        if self.expires_at is not None and self.expires_at <= t:
            return False
        return self.max_redemptions is None or self.times_redeemed(t) < self.max_redemptions


@dataclass(eq=False)
class Discount:
    """A coupon applied to a subscription (while `start <= t < end`) or to one invoice."""

    id: str
    coupon: Coupon
    customer: Customer
    start: int
    end: int | None
    promotion_code: PromotionCode | None = None
    subscription: Subscription | None = None
    invoice: Invoice | None = None

    def applies(self, t: int) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(eq=False)
class Invoice:
    id: str
    created: int
    customer: Customer
    subscription: Subscription | None
    """None on a one-off invoice (business/lifecycle.py's deleted drafts)."""
    billing_reason: str
    currency: str
    period_start: int
    period_end: int
    number: str
    starting_balance: int
    next_payment_attempt: Timeline[int | None]
    lines: list[InvoiceLine] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    payment_intent: PaymentIntent | None = None
    finalized_at: int | None = None
    paid_at: int | None = None
    marked_uncollectible_at: int | None = None
    voided_at: int | None = None
    discount: Discount | None = None
    """The discount applied to this invoice (the subscription's, or one given on this invoice alone)."""
    automatic_tax: bool = False
    deleted_at: int | None = None
    """When the merchant deleted the (one-off, draft) invoice: retrieve answers Stripe's deleted stub,
    lists omit it."""

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(line.discount_amount for line in self.lines)

    @property
    def tax_total(self) -> int:
        return sum(line.tax.amount for line in self.lines if line.tax is not None)

    @property
    def inclusive_tax(self) -> int:
        return sum(line.inclusive_tax for line in self.lines)

    @property
    def total(self) -> int:
        """Subtotal less discounts plus exclusive tax (inclusive tax is already in the amounts)."""
        return self.subtotal - self.discount_total + sum(line.exclusive_tax for line in self.lines)

    @property
    def total_excluding_tax(self) -> int:
        return self.total - self.tax_total

    @property
    def subtotal_excluding_tax(self) -> int:
        return self.subtotal - sum(line.tax.undiscounted for line in self.lines if line.tax is not None)

    @property
    def amount_due(self) -> int:
        return max(0, self.total + self.starting_balance)

    @property
    def ending_balance(self) -> int:
        return min(0, self.total + self.starting_balance)

    def status_at(self, t: int) -> str:
        if seen(self.paid_at, t):
            return "paid"
        if seen(self.voided_at, t):
            return "void"
        if seen(self.marked_uncollectible_at, t):
            return "uncollectible"
        return "open" if seen(self.finalized_at, t) else "draft"


@dataclass(eq=False)
class PaymentIntent:
    id: str
    created: int
    invoice: Invoice
    amount: int
    currency: str
    charges: list[Charge] = field(default_factory=list)
    succeeded_at: int | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None

    def latest_charge_at(self, t: int) -> Charge | None:
        return next((charge for charge in reversed(self.charges) if charge.created <= t), None)

    def status_at(self, t: int) -> str:
        if seen(self.succeeded_at, t):
            return "succeeded"
        return "canceled" if seen(self.canceled_at, t) else "requires_payment_method"


@dataclass(eq=False)
class InvoicePayment:
    id: str
    created: int
    invoice: Invoice
    payment_intent: PaymentIntent
    paid_at: int | None = None
    canceled_at: int | None = None

    def status_at(self, t: int) -> str:
        if seen(self.paid_at, t):
            return "paid"
        return "canceled" if seen(self.canceled_at, t) else "open"


BalanceType = Literal["charge", "refund", "adjustment", "stripe_fee", "payout", "payout_failure"]


@dataclass(eq=False)
class BalanceTransaction:
    id: str
    created: int
    available_on: int
    type: BalanceType
    reporting_category: str
    currency: str
    amount: int
    fee: int
    fee_description: str | None
    source: str | None
    description: str | None
    exchange_rate: Decimal | None = None
    payout: Payout | None = None
    """The automatic payout that swept this transaction's funds to the bank."""

    @property
    def net(self) -> int:
        return self.amount - self.fee


@dataclass(eq=False)
class Charge:
    id: str
    created: int
    payment_intent: PaymentIntent
    invoice: Invoice
    customer: Customer
    payment_method: PaymentMethod
    amount: int
    currency: str
    decline: Decline | None
    risk_score: int
    balance_transaction: BalanceTransaction | None = None
    refunds: list[Refund] = field(default_factory=list)
    dispute: Dispute | None = None

    @property
    def succeeded(self) -> bool:
        return self.decline is None


@dataclass(eq=False)
class Refund:
    id: str
    created: int
    charge: Charge
    amount: int
    reason: str
    balance_transaction: BalanceTransaction


@dataclass(eq=False)
class Dispute:
    id: str
    created: int
    charge: Charge
    reason: str
    network_reason_code: str
    due_by: int
    evidence_submitted_at: int | None
    closed_at: int
    won: bool
    balance_transactions: list[BalanceTransaction] = field(default_factory=list)

    def status_at(self, t: int) -> str:
        if seen(self.closed_at, t):
            return "won" if self.won else "lost"
        return "under_review" if seen(self.evidence_submitted_at, t) else "needs_response"


@dataclass(eq=False)
class Payout:
    id: str
    created: int
    amount: int
    currency: str
    arrival_date: int
    in_transit_at: int
    destination: str
    trace_number: str
    balance_transaction: BalanceTransaction | None = None
    paid_at: int | None = None
    failed_at: int | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    failure_balance_transaction: BalanceTransaction | None = None

    def status_at(self, t: int) -> str:
        if seen(self.paid_at, t):
            return "paid"
        if seen(self.failed_at, t):
            return "failed"
        return "in_transit" if seen(self.in_transit_at, t) else "pending"


Entity = (
    Product
    | Price
    | Customer
    | PaymentMethod
    | Subscription
    | SubscriptionItem
    | Invoice
    | InvoicePayment
    | PaymentIntent
    | Charge
    | Refund
    | Dispute
    | Payout
    | BalanceTransaction
    | TaxRate
    | Coupon
    | PromotionCode
)


@dataclass(frozen=True, eq=False)
class Change:
    """Something that happened to an entity at `t`; the processor reports it as an event.

    `action` is the processor's verb for it ("created", "updated", "paid", "payment_failed"…);
    `requested` marks changes made through an API call (by the customer or the merchant) rather
    than by the processor's own automation.
    """

    t: int
    entity: Entity
    action: str
    requested: bool = False


@dataclass
class History:
    """Everything that happened in one tenant's processor account, up to (and scheduled past) a horizon."""

    tenant_id: str
    horizon: int
    products: list[Product] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    payment_methods: list[PaymentMethod] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    deleted_drafts: list[Invoice] = field(default_factory=list)
    """One-off invoices the merchant drafted and deleted before finalizing (business/lifecycle.py).
    Kept apart from `invoices`, which the ledger, books, bank and usage read: a deleted draft never
    reaches any of them, only Stripe's API and events."""
    payment_intents: list[PaymentIntent] = field(default_factory=list)
    invoice_payments: list[InvoicePayment] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    payouts: list[Payout] = field(default_factory=list)
    balance_transactions: list[BalanceTransaction] = field(default_factory=list)
    tax_rates: list[TaxRate] = field(default_factory=list)
    coupons: list[Coupon] = field(default_factory=list)
    promotion_codes: list[PromotionCode] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    _recorded: set[tuple[str, str, int]] = field(default_factory=set, init=False, repr=False)

    def record(self, t: int, entity: Entity, action: str, requested: bool = False) -> None:
        # One event per (object, action, second): two causes of the same change in the same second
        # (a renewal that also ends a trial) are one change to whoever watches the account.
        key = (entity.id, action, t)
        if key not in self._recorded:
            self._recorded.add(key)
            self.changes.append(Change(t, entity, action, requested))
