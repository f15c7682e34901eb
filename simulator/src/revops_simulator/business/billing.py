"""One customer's journey: sign-up, trial, billing periods, payments and dunning, changes, churn.

Each journey draws from its own random streams (the customer's, one per invoice's dunning, one per
period's changes, one per sale's aftermath), so what happens to one customer never depends on how
much of anyone else's history was generated.
"""

from __future__ import annotations

import random
from bisect import insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from revops_simulator.actions import Action
from revops_simulator.business import identities, lifecycle
from revops_simulator.business.catalog import Catalog
from revops_simulator.business.clock import (
    DAY,
    HOUR,
    MINUTE,
    add_months,
    day_start,
    midnight_after,
    short_date,
    to_date,
)
from revops_simulator.business.declines import HARD, SOFT, Decline
from revops_simulator.business.discounts import Coupons
from revops_simulator.business.entities import (
    Charge,
    Customer,
    Dispute,
    History,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    PaymentIntent,
    PaymentMethod,
    Price,
    Refund,
    Subscription,
    SubscriptionItem,
    Timeline,
)
from revops_simulator.business.ledger import Ledger
from revops_simulator.business.seeding import make_id, stable_hash, stream, weighted
from revops_simulator.business.tax import Taxes
from revops_simulator.business.tenants import Interval, PlanSpec, Region, Tenant
from revops_simulator.business.usage import UsageVolume, billed_api_calls, graduated_amount

TRIAL_SHARE = 0.30
TRIAL_DAYS = 14
TRIAL_CANCEL_SHARE = 0.25
TRIAL_WILL_END_NOTICE = 3 * DAY
RISKY_SHARE = 0.10
HYPERGROWTH_SHARE = 0.06
"""Monthly per-seat customers adding seats every few days (their invoices carry many prorations)."""

FIRST_ATTEMPT_FAILURE = 0.07
RISKY_FIRST_ATTEMPT_FAILURE = 0.30
HARD_DECLINE_SHARE = 0.22
RETRY_SUCCESS = 0.40
RISKY_RETRY_SUCCESS = 0.25
RETRY_AFTER_DAYS = (3, 7, 14)
"""Smart-Retries-like schedule, counted from the first attempt."""
CARD_UPDATE_AFTER_HARD_DECLINE = 0.35
NEW_CARD_SUCCESS = 0.88
RENEWAL_FINALIZATION_DELAY = HOUR
INCOMPLETE_EXPIRY = 23 * HOUR
INCOMPLETE_CUSTOMER_RETRY = 0.5

# How the simulated customers answer a merchant's dunning (simulator/actions.py).
MERCHANT_RETRY_SUCCESS = (0.2, 0.04, 0.6)
"""A merchant's retry of a soft decline on the same card: base chance, plus per day since the first
failure (funds arrive, limits reset), capped. A hard decline on the same card fails again."""
RISKY_MERCHANT_RETRY_FACTOR = 0.6
EMAIL_RESPONSE: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {"payment_failed": (0.25, 0.30), "card_update": (0.30, 0.45), "final_notice": (0.25, 0.25)}
)
"""Chance that a dunning email (by template) makes the customer update the card and pay, after a
(soft, hard) decline. Other templates get no reaction."""
EMAIL_RESPONSE_DELAY = (30 * MINUTE, 36 * HOUR)

SEAT_CHANGE_RATE: MappingProxyType[Interval, float] = MappingProxyType({"month": 0.15, "year": 0.5})
PLAN_CHANGE_RATE: MappingProxyType[Interval, float] = MappingProxyType({"month": 0.04, "year": 0.15})
CHURN_RATE: MappingProxyType[Interval, float] = MappingProxyType({"month": 0.03, "year": 0.12})
RISKY_CHURN_RATE: MappingProxyType[Interval, float] = MappingProxyType({"month": 0.06, "year": 0.2})
IMMEDIATE_CANCEL_SHARE = 0.4
CANCELLATION_FEEDBACK = MappingProxyType(
    {
        "too_expensive": 30.0,
        "unused": 25.0,
        "switched_service": 15.0,
        "missing_features": 15.0,
        "low_quality": 5.0,
        "customer_service": 5.0,
        "other": 5.0,
    }
)

REFUND_RATE = 0.03
DISPUTE_RATE = 0.005
RISKY_DISPUTE_RATE = 0.02
FULL_REFUND_SHARE = 0.6
REFUND_REASONS = MappingProxyType({"requested_by_customer": 85.0, "duplicate": 10.0, "fraudulent": 5.0})
DISPUTE_REASONS = MappingProxyType(
    {
        ("fraudulent", "10.4"): 35.0,
        ("subscription_canceled", "13.2"): 25.0,
        ("product_not_received", "13.1"): 10.0,
        ("credit_not_processed", "13.6"): 10.0,
        ("general", "13.7"): 10.0,
        ("duplicate", "12.6.1"): 5.0,
        ("unrecognized", "10.4"): 5.0,
    }
)
EVIDENCE_SHARE = 0.8
DISPUTE_WIN_SHARE = 0.45

# Stripe's line descriptions put a real multiplication sign between quantity and product.
TIMES = " \N{MULTIPLICATION SIGN} "
_CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


@dataclass(frozen=True)
class Context:
    tenant: Tenant
    seed: int
    history: History
    catalog: Catalog
    ledger: Ledger
    actions: Mapping[str, Sequence[Action]] = field(default_factory=dict)
    """Merchant actions and delivered emails per invoice id, in time order (simulator/actions.py)."""
    taxes: Taxes | None = None
    coupons: Coupons | None = None


@dataclass(frozen=True)
class LineDraft:
    """An invoice line before its invoice exists: a period's charge, or a proration waiting for the next
    invoice (Stripe's pending invoice item)."""

    price: Price
    quantity: int
    amount: int
    description: str
    period_start: int
    period_end: int
    proration: bool = False
    credited: tuple[str, str] | None = None
    item: SubscriptionItem | None = None
    """The subscription item billed, when not the plan's (a metered item's usage)."""


def money(amount: int, currency: str) -> str:
    return f"{_CURRENCY_SYMBOLS[currency]}{amount // 100:,}.{amount % 100:02d}"


def _share(amount: int, at: int, start: int, end: int) -> int:
    """`amount` times the unused fraction of [start, end) from `at`, rounded half up (exact integers)."""
    span = end - start
    return (2 * amount * (end - at) + span) // (2 * span)


def _times(quantity: int, name: str) -> str:
    return f"{quantity}{TIMES}{name}" if quantity > 1 else name


class CustomerJourney:
    def __init__(self, ctx: Context, day: date, index: int) -> None:
        self.ctx = ctx
        self.seed, self.tenant, self.history = ctx.seed, ctx.tenant, ctx.history
        self.day, self.index = day, index
        self.rng = stream(ctx.seed, ctx.tenant.id, "customer", day.isoformat(), index)
        self.risky = False
        self.hypergrowth = False
        self.cards = 0
        self.charged_line: tuple[str, str] | None = None
        """The invoice line that last charged for the subscription item; what proration credits give back."""

    def _id(self, prefix: str, *parts: object, length: int = 24) -> str:
        return make_id(prefix, self.seed, self.tenant.id, *parts, length=length)

    # --- sign-up ---

    def run(self) -> None:
        rng = self.rng
        signup = day_start(self.day) + rng.randint(7 * HOUR, 21 * HOUR)
        if signup > self.history.horizon:
            return
        currency = weighted(rng, self.tenant.currency_mix)
        region = rng.choice(self.tenant.regions[currency])
        self.risky = rng.random() < RISKY_SHARE
        customer = self._customer(signup, region)
        plan = weighted(rng, {plan: plan.popularity for plan in self.tenant.plans})
        interval: Interval = "year" if rng.random() < self.tenant.annual_share else "month"
        seats = min(60, 1 + int(rng.expovariate(1 / 5))) if plan.per_seat else 1
        trial = rng.random() < TRIAL_SHARE
        self.hypergrowth = plan.per_seat and interval == "month" and rng.random() < HYPERGROWTH_SHARE
        start = signup + rng.randint(MINUTE, 15 * MINUTE)
        price = self.ctx.catalog.price(plan, interval, currency, start)
        subscription, item = self._subscribe(customer, price, seats, start, trial)
        if trial:
            self._trial(subscription, item)
        else:
            self._billing_periods(subscription, item, start, "subscription_create")
        if self.ctx.coupons is not None:
            self.ctx.coupons.settle(subscription)
        self._come_back(customer, subscription)

    def _come_back(self, customer: Customer, first: Subscription) -> None:
        """A customer who churned and subscribes again, weeks or months later (same customer id)."""
        returning = lifecycle.comeback(self.seed, self.tenant.id, customer.id, first.ended_at)
        if returning is None or returning[0] > self.history.horizon:
            return
        start, rng = returning
        plan = weighted(rng, {plan: plan.popularity for plan in self.tenant.plans})
        interval: Interval = "year" if rng.random() < self.tenant.annual_share else "month"
        seats = min(60, 1 + int(rng.expovariate(1 / 5))) if plan.per_seat else 1
        self.hypergrowth = False
        currency = customer.currency.at(first.created) or first.currency
        price = self.ctx.catalog.price(plan, interval, currency, start)
        subscription, item = self._subscribe(customer, price, seats, start, False, key="comeback")
        self._billing_periods(subscription, item, start, "subscription_create")
        if self.ctx.coupons is not None:
            self.ctx.coupons.settle(subscription)

    def _customer(self, signup: int, region: Region) -> Customer:
        identity = identities.company(self.rng, region)
        customer_id = self._id("cus_", "customer", self.day.isoformat(), self.index, length=14)
        customer = Customer(
            id=customer_id,
            created=signup,
            name=identity.name,
            email=identity.email,
            phone=identity.phone,
            line1=identity.line1,
            city=identity.city,
            state=identity.state,
            postal_code=identity.postal_code,
            country=region.country,
            locale=region.locale,
            invoice_prefix=f"{stable_hash(customer_id, 'invoice-prefix') % 16**8:08X}",
            signup_channel=self.rng.choice(("website", "website", "sales", "partner")),
            currency=Timeline(None),
            balance=Timeline(0),
            delinquent=Timeline(False),
            payment_method=Timeline(self._card(customer_id, signup, region.country)),
            next_invoice_sequence=Timeline(1),
        )
        if self.ctx.taxes is not None:
            self.ctx.taxes.classify(customer)
        lifecycle.attach_card(self.history, customer, customer.payment_method.at(signup))
        self.history.customers.append(customer)
        self.history.record(signup, customer, "created", requested=True)
        return customer

    def _card(self, customer_id: str, created: int, country: str) -> PaymentMethod:
        self.cards += 1
        card_id = self._id("pm_", "card", customer_id, self.cards)
        card = identities.card(stream(card_id), card_id, created, country, to_date(created).year)
        self.history.payment_methods.append(card)
        return card

    def _subscribe(
        self, customer: Customer, price: Price, seats: int, start: int, trial: bool, key: str | None = None
    ) -> tuple[Subscription, SubscriptionItem]:
        trial_end = start + TRIAL_DAYS * DAY if trial else None
        subscription = Subscription(
            # A later subscription of the same customer is keyed apart from its first.
            id=self._id("sub_", "subscription", customer.id, *((key,) if key else ())),
            created=start,
            customer=customer,
            currency=price.currency,
            billing_cycle_anchor=trial_end or start,
            trial_start=start if trial else None,
            trial_end=trial_end,
            # Until the first payment goes through; set to "active" as of creation if it does.
            status=Timeline("trialing" if trial else "incomplete"),
            latest_invoice=Timeline(None),
        )
        item = SubscriptionItem(
            id=self._id("si_", "item", subscription.id, length=14),
            created=start,
            subscription=subscription,
            price=Timeline(price),
            quantity=Timeline(seats),
            period=Timeline((start, trial_end or self._period_end(start, price.interval, 1))),
        )
        subscription.items.append(item)
        if price.interval == "month":
            # Monthly plans also bill API calls, in arrears, on a metered item beside the plan's.
            metered = self.ctx.catalog.metered[price.currency]
            subscription.items.append(
                SubscriptionItem(
                    id=self._id("si_", "metered-item", subscription.id, length=14),
                    created=start,
                    subscription=subscription,
                    price=Timeline(metered),
                    quantity=Timeline(0),
                    period=Timeline(item.period.at(start)),
                )
            )
        if self.ctx.taxes is not None:
            self.ctx.taxes.subscribe(subscription)
        # A customer's currency is fixed by its first subscription.
        customer.currency.set(start, price.currency)
        self.history.record(start, customer, "updated", requested=True)
        self.history.subscriptions.append(subscription)
        return subscription, item

    @staticmethod
    def _period_end(anchor: int, interval: Interval, periods: int) -> int:
        return add_months(anchor, periods * (1 if interval == "month" else 12))

    def _trial(self, subscription: Subscription, item: SubscriptionItem) -> None:
        assert subscription.trial_start is not None and subscription.trial_end is not None
        start, trial_end = subscription.trial_start, subscription.trial_end
        price, seats = item.price.at(start), item.quantity.at(start)
        invoice = self._invoice(
            subscription,
            start,
            "subscription_create",
            (start, start),
            [LineDraft(price, seats, 0, f"Trial period for {price.product.name}", start, trial_end)],
        )
        self.charged_line = (invoice.id, invoice.lines[-1].id)
        subscription.latest_invoice.set(start, invoice)
        self.history.record(start, subscription, "created", requested=True)
        self._collect(invoice, subscription)
        notice = trial_end - TRIAL_WILL_END_NOTICE
        if self.rng.random() < TRIAL_CANCEL_SHARE:
            at = start + self.rng.randint(HOUR, TRIAL_DAYS * DAY - HOUR)
            if at > notice:
                self.history.record(notice, subscription, "trial_will_end")
            self._cancel_now(subscription, at, "cancellation_requested", requested=True)
            return
        self.history.record(notice, subscription, "trial_will_end")
        subscription.status.set(trial_end, "active")
        self._billing_periods(subscription, item, trial_end, "subscription_cycle")

    # --- billing periods ---

    def _billing_periods(
        self, subscription: Subscription, item: SubscriptionItem, anchor: int, reason: str
    ) -> None:
        interval = item.price.at(anchor).interval
        period_start, periods = anchor, 0
        previous_start = subscription.trial_start if subscription.trial_start is not None else anchor
        pending: list[LineDraft] = []
        if self.ctx.coupons is not None and anchor <= self.history.horizon:
            # A coupon is redeemed when the subscription first bills (at creation or trial conversion).
            self.ctx.coupons.redeem(subscription, anchor)
        while period_start <= self.history.horizon:
            period_end = self._period_end(anchor, interval, periods + 1)
            creating = reason == "subscription_create"
            if not creating:
                for each in subscription.items:
                    each.period.set(period_start, (period_start, period_end))
            price, seats = item.price.at(period_start), item.quantity.at(period_start)
            unit = money(price.unit_amount, price.currency)
            line = LineDraft(
                price,
                seats,
                price.unit_amount * seats,
                f"{seats}{TIMES}{price.product.name} (at {unit} / {price.interval})",
                period_start,
                period_end,
            )
            # Stripe bills a renewal for the period that just ended ("usage period"); a new
            # subscription's first invoice covers an empty period at its creation.
            usage_period = (period_start, period_start) if creating else (previous_start, period_start)
            usage = [] if creating else self._usage_lines(subscription, previous_start, period_start)
            drafts = [*pending, *usage, line]
            invoice = self._invoice(subscription, period_start, reason, usage_period, drafts)
            self.charged_line = (invoice.id, invoice.lines[-1].id)
            subscription.latest_invoice.set(period_start, invoice)
            self.history.record(
                period_start, subscription, "created" if creating else "updated", requested=creating
            )
            settled = self._collect(invoice, subscription)
            if settled is None:
                return
            pending = []
            if self._changes(subscription, item, settled, period_start, period_end, pending):
                return
            previous_start, period_start, periods = period_start, period_end, periods + 1
            reason = "subscription_cycle"

    def _usage_lines(self, subscription: Subscription, start: int, end: int) -> list[LineDraft]:
        """The metered items' usage of [start, end), as far as it had reached Stripe by `end`."""
        lines = []
        for metered in subscription.items[1:]:
            price = metered.price.at(start)
            calls = billed_api_calls(
                self.seed, self.tenant.id, subscription.customer.id, start, end, end, UsageVolume()
            )
            amount = graduated_amount(calls, price.tiers)
            description = f"{calls}{TIMES}{price.product.name} (usage)"
            lines.append(LineDraft(price, calls, amount, description, start, end, item=metered))
        return lines

    def _invoice(
        self,
        subscription: Subscription,
        created: int,
        reason: str,
        usage_period: tuple[int, int],
        drafts: list[LineDraft],
    ) -> Invoice:
        customer = subscription.customer
        sequence = customer.next_invoice_sequence.at(created)
        invoice = Invoice(
            id=self._id("in_", "invoice", subscription.id, created),
            created=created,
            customer=customer,
            subscription=subscription,
            billing_reason=reason,
            currency=subscription.currency,
            period_start=usage_period[0],
            period_end=usage_period[1],
            number=f"{customer.invoice_prefix}-{sequence:04d}",
            starting_balance=customer.balance.at(created),
            next_payment_attempt=Timeline(None),
        )
        item = subscription.items[0]
        invoice.lines = [
            InvoiceLine(
                id=self._id("il_", "line", invoice.id, index),
                invoice=invoice,
                item=draft.item or item,
                price=draft.price,
                quantity=draft.quantity,
                amount=draft.amount,
                description=draft.description,
                period_start=draft.period_start,
                period_end=draft.period_end,
                proration=draft.proration,
                credited=draft.credited,
            )
            for index, draft in enumerate(drafts)
        ]
        # Discounts come off before tax is computed on what remains.
        if self.ctx.coupons is not None:
            self.ctx.coupons.apply(invoice)
        if self.ctx.taxes is not None:
            self.ctx.taxes.apply(invoice)
        self.history.invoices.append(invoice)
        self.history.record(created, invoice, "created")
        return invoice

    # --- collection and dunning ---

    def _collect(self, invoice: Invoice, subscription: Subscription) -> int | None:
        """Finalize and collect `invoice`; when it was settled, or None if the subscription ended."""
        customer = invoice.customer
        creating = invoice.billing_reason == "subscription_create"
        finalized = invoice.created + (1 if creating else RENEWAL_FINALIZATION_DELAY)
        invoice.finalized_at = finalized
        # Finalizing takes the customer's next invoice number and applies any credit balance.
        customer.next_invoice_sequence.set(finalized, customer.next_invoice_sequence.at(finalized) + 1)
        if invoice.ending_balance != invoice.starting_balance:
            customer.balance.set(finalized, invoice.ending_balance)
        self.history.record(finalized, customer, "updated")
        self.history.record(finalized, invoice, "finalized")
        if invoice.amount_due == 0:
            invoice.paid_at = finalized + 1
            self.history.record(invoice.paid_at, invoice, "paid")
            if subscription.status.at(subscription.created) == "incomplete":
                subscription.status.set(subscription.created, "active")
            return invoice.paid_at
        intent = PaymentIntent(
            id=self._id("pi_", "payment-intent", invoice.id),
            created=finalized,
            invoice=invoice,
            amount=invoice.amount_due,
            currency=invoice.currency,
        )
        invoice.payment_intent = intent
        payment = InvoicePayment(
            id=self._id("inpay_", "invoice-payment", invoice.id),
            created=finalized,
            invoice=invoice,
            payment_intent=intent,
        )
        self.history.payment_intents.append(intent)
        self.history.invoice_payments.append(payment)
        self.history.record(finalized, intent, "created")
        return self._dunning(invoice, intent, payment, subscription, creating)

    def _dunning(
        self,
        invoice: Invoice,
        intent: PaymentIntent,
        payment: InvoicePayment,
        subscription: Subscription,
        creating: bool,
    ) -> int | None:
        rng = stream(self.seed, self.tenant.id, "dunning", invoice.id)
        first = invoice.created + (2 if creating else RENEWAL_FINALIZATION_DELAY + 1)
        retries = [first + days * DAY + rng.randint(-6 * HOUR, 6 * HOUR) for days in RETRY_AFTER_DAYS]
        at, decline, new_card = first, self._first_attempt(rng), False
        attempt = 0
        actions = list(self.ctx.actions.get(invoice.id, ()))
        reactions: list[int] = []
        while True:
            attempt += 1
            charge = self._charge(invoice, intent, at, decline, attempt, rng)
            if decline is None:
                self._paid(invoice, intent, payment, subscription, charge)
                return at + 1
            self._failed(invoice, intent, subscription, at, first_failure=attempt == 1)
            first_failure = invoice.charges[0].created
            if creating:
                # Stripe does not retry a new subscription's first invoice: the customer has 23 hours.
                expires = invoice.created + INCOMPLETE_EXPIRY
                retry = attempt == 1 and rng.random() < INCOMPLETE_CUSTOMER_RETRY
                next_at = at + rng.randint(HOUR, 20 * HOUR) if retry else None
                give_up = expires
            elif decline.hard and not new_card:
                # Not retried automatically; only a new card helps.
                retry = rng.random() < CARD_UPDATE_AFTER_HARD_DECLINE
                next_at = at + rng.randint(HOUR, 6 * DAY) if retry else None
                give_up = retries[-1] + HOUR
            else:
                retry = False
                next_at = next((moment for moment in retries if moment > at + HOUR), None)
                give_up = at + MINUTE
            invoice.next_payment_attempt.set(at, None if retry else next_at)
            deadline = next_at if next_at is not None else max(give_up, at + MINUTE)
            # The merchant's dunning, and the customers answering it, may act before the processor does.
            intervention = self._intervention(invoice, decline, actions, reactions, at, deadline)
            if intervention is not None:
                kind, at = intervention
                if kind == "invoice_mark_uncollectible":
                    self._give_up(invoice, intent, payment, subscription, at)
                    return None
                if kind == "card_update":
                    self._replace_card(invoice.customer, at - 5 * MINUTE)
                    new_card = True
                    decline = self._retry(
                        stream(self.seed, self.tenant.id, "card-update", invoice.id, at), decline, True
                    )
                else:
                    decline = self._merchant_retry(invoice, decline, at, first_failure, new_card)
                continue
            if next_at is None:
                self._give_up(invoice, intent, payment, subscription, max(give_up, at + MINUTE))
                return None
            if retry:
                self._replace_card(invoice.customer, next_at - 5 * MINUTE)
            new_card = new_card or retry
            decline = self._retry(rng, decline, retry)
            at = next_at

    def _intervention(
        self,
        invoice: Invoice,
        decline: Decline,
        actions: list[Action],
        reactions: list[int],
        at: int,
        deadline: int,
    ) -> tuple[str, int] | None:
        """The next merchant action or customer reaction in [at, deadline) that changes the invoice, if any.

        `actions` and `reactions` (times of customers updating their card) are consumed in time order;
        a delivered email may add a reaction.
        """
        while actions or reactions:
            if reactions and (not actions or reactions[0] < actions[0].at):
                if reactions[0] >= deadline:
                    return None
                return "card_update", reactions.pop(0)
            action = actions[0]
            if action.at >= deadline:
                return None
            actions.pop(0)
            if action.at < at:
                continue
            if action.kind != "email_delivered":
                return action.kind, action.at
            reaction = self._email_reaction(invoice, decline, action)
            if reaction is not None:
                insort(reactions, reaction)
        return None

    def _email_reaction(self, invoice: Invoice, decline: Decline, email: Action) -> int | None:
        """When the customer, moved by `email`, updates the card and pays; None if they do not."""
        shares = EMAIL_RESPONSE.get(email.detail)
        if shares is None:
            return None
        rng = stream(self.seed, self.tenant.id, "email", invoice.id, email.detail, email.at)
        if rng.random() >= shares[decline.hard]:
            return None
        return email.at + rng.randint(*EMAIL_RESPONSE_DELAY)

    def _merchant_retry(
        self, invoice: Invoice, previous: Decline, at: int, first_failure: int, new_card: bool
    ) -> Decline | None:
        """The outcome of a payment retry the merchant asked for (POST /v1/invoices/{id}/pay) at `at`."""
        if previous.hard and not new_card:
            return previous
        rng = stream(self.seed, self.tenant.id, "merchant-retry", invoice.id, at)
        base, per_day, cap = MERCHANT_RETRY_SUCCESS
        success = min(cap, base + per_day * (at - first_failure) / DAY)
        if self.risky:
            success *= RISKY_MERCHANT_RETRY_FACTOR
        if rng.random() < success:
            return None
        return previous if rng.random() < 0.7 else weighted(rng, SOFT)

    def _first_attempt(self, rng: random.Random) -> Decline | None:
        failure = RISKY_FIRST_ATTEMPT_FAILURE if self.risky else FIRST_ATTEMPT_FAILURE
        if rng.random() >= failure:
            return None
        return weighted(rng, HARD if rng.random() < HARD_DECLINE_SHARE else SOFT)

    def _retry(self, rng: random.Random, previous: Decline, with_new_card: bool) -> Decline | None:
        own_card = RISKY_RETRY_SUCCESS if self.risky else RETRY_SUCCESS
        success = NEW_CARD_SUCCESS if with_new_card else own_card
        if rng.random() < success:
            return None
        if not with_new_card and not previous.hard and rng.random() < 0.7:
            return previous
        return weighted(rng, SOFT)

    def _charge(
        self,
        invoice: Invoice,
        intent: PaymentIntent,
        at: int,
        decline: Decline | None,
        attempt: int,
        rng: random.Random,
    ) -> Charge:
        risk = (
            rng.randint(80, 99)
            if decline is not None and decline.risk_level == "highest"
            else rng.randint(5, 60)
        )
        charge = Charge(
            id=self._id("ch_", "charge", invoice.id, attempt),
            created=at,
            payment_intent=intent,
            invoice=invoice,
            customer=invoice.customer,
            payment_method=invoice.customer.payment_method.at(at),
            amount=invoice.amount_due,
            currency=invoice.currency,
            decline=decline,
            risk_score=risk,
        )
        intent.charges.append(charge)
        invoice.charges.append(charge)
        self.history.charges.append(charge)
        if decline is None:
            charge.balance_transaction = self.ctx.ledger.charge(charge, charge_description(invoice))
            self.history.record(at, charge, "succeeded")
            self._aftermath(charge)
        else:
            self.history.record(at, charge, "failed")
        return charge

    def _paid(
        self,
        invoice: Invoice,
        intent: PaymentIntent,
        payment: InvoicePayment,
        subscription: Subscription,
        charge: Charge,
    ) -> None:
        at = charge.created
        intent.succeeded_at = at
        invoice.paid_at = payment.paid_at = at + 1
        invoice.next_payment_attempt.set(at + 1, None)
        self.history.record(at, intent, "succeeded")
        self.history.record(at + 1, invoice, "paid")
        self.history.record(at + 1, payment, "paid")
        status = subscription.status.at(at)
        if status == "incomplete" and len(invoice.charges) == 1:
            subscription.status.set(subscription.created, "active")
        elif status in ("incomplete", "past_due"):
            subscription.status.set(at + 1, "active")
            self.history.record(at + 1, subscription, "updated")
        customer = invoice.customer
        if customer.delinquent.at(at):
            customer.delinquent.set(at + 1, False)
            self.history.record(at + 1, customer, "updated")

    def _failed(
        self,
        invoice: Invoice,
        intent: PaymentIntent,
        subscription: Subscription,
        at: int,
        first_failure: bool,
    ) -> None:
        self.history.record(at, intent, "payment_failed")
        self.history.record(at, invoice, "payment_failed")
        if not first_failure:
            return
        if subscription.status.at(at) in ("active", "trialing"):
            subscription.status.set(at, "past_due")
            self.history.record(at, subscription, "updated")
        invoice.customer.delinquent.set(at, True)
        self.history.record(at, invoice.customer, "updated")

    def _give_up(
        self,
        invoice: Invoice,
        intent: PaymentIntent,
        payment: InvoicePayment,
        subscription: Subscription,
        at: int,
    ) -> None:
        invoice.next_payment_attempt.set(at, None)
        if invoice.billing_reason == "subscription_create":
            invoice.voided_at = intent.canceled_at = payment.canceled_at = at
            intent.cancellation_reason = "void_invoice"
            subscription.status.set(at, "incomplete_expired")
            subscription.ended_at = at
            self.history.record(at, invoice, "voided")
            self.history.record(at, intent, "canceled")
            self.history.record(at, subscription, "updated")
        else:
            invoice.marked_uncollectible_at = at
            self.history.record(at, invoice, "marked_uncollectible")
            self._cancel_now(subscription, at + 1, "payment_failed", requested=False)
        # Paying or writing off an invoice clears the customer's delinquency.
        invoice.customer.delinquent.set(at, False)
        self.history.record(at, invoice.customer, "updated")

    def _replace_card(self, customer: Customer, at: int) -> None:
        old = customer.payment_method.at(at)
        new = self._card(customer.id, at, customer.country)
        customer.payment_method.set(at, new)
        lifecycle.replace_card(self.history, customer, old, new, at)
        self.history.record(at, customer, "updated", requested=True)

    # --- after a sale: refunds and disputes ---

    def _aftermath(self, charge: Charge) -> None:
        rng = stream(self.seed, self.tenant.id, "aftermath", charge.id)
        draw = rng.random()
        if draw < REFUND_RATE:
            self._refund(rng, charge)
        elif draw < REFUND_RATE + (RISKY_DISPUTE_RATE if self.risky else DISPUTE_RATE):
            self._dispute(rng, charge)

    def _refund(self, rng: random.Random, charge: Charge) -> None:
        at = charge.created + rng.randint(DAY, 30 * DAY)
        full = rng.random() < FULL_REFUND_SHARE
        amount = charge.amount if full else max(1, charge.amount * rng.randint(20, 80) // 100)
        refund_id = self._id("re_", "refund", charge.id)
        refund = Refund(
            id=refund_id,
            created=at,
            charge=charge,
            amount=amount,
            reason=weighted(rng, REFUND_REASONS),
            balance_transaction=self.ctx.ledger.refund(refund_id, charge, amount, at),
        )
        charge.refunds.append(refund)
        self.history.refunds.append(refund)
        self.history.record(at, refund, "created", requested=True)
        self.history.record(at, charge, "refunded", requested=True)

    def _dispute(self, rng: random.Random, charge: Charge) -> None:
        at = charge.created + rng.randint(5 * DAY, 60 * DAY)
        reason, network_code = weighted(rng, DISPUTE_REASONS)
        due_by = midnight_after(at, 8) - 1
        evidence = at + rng.randint(DAY, 6 * DAY) if rng.random() < EVIDENCE_SHARE else None
        if evidence is not None:
            closed, won = evidence + rng.randint(20 * DAY, 60 * DAY), rng.random() < DISPUTE_WIN_SHARE
        else:
            closed, won = due_by + rng.randint(DAY, 10 * DAY), False
        dispute_id = self._id("dp_", "dispute", charge.id)
        dispute = Dispute(
            id=dispute_id,
            created=at,
            charge=charge,
            reason=reason,
            network_reason_code=network_code,
            due_by=due_by,
            evidence_submitted_at=evidence,
            closed_at=closed,
            won=won,
        )
        withdrawal = self.ctx.ledger.dispute_withdrawal(dispute_id, charge, at)
        dispute.balance_transactions.append(withdrawal)
        charge.dispute = dispute
        self.history.disputes.append(dispute)
        self.history.record(at, dispute, "created")
        self.history.record(at, dispute, "funds_withdrawn")
        self.history.record(at, charge, "updated")
        if evidence is not None:
            self.history.record(evidence, dispute, "updated", requested=True)
        else:
            self.history.record(due_by + 1, dispute, "updated")
        self.history.record(closed, dispute, "closed")
        if won:
            reinstated = closed + 1
            dispute.balance_transactions.append(
                self.ctx.ledger.dispute_reinstatement(dispute_id, charge, withdrawal, reinstated)
            )
            self.history.record(reinstated, dispute, "funds_reinstated")

    # --- mid-period changes and cancellation ---

    def _changes(
        self,
        subscription: Subscription,
        item: SubscriptionItem,
        settled: int,
        period_start: int,
        period_end: int,
        pending: list[LineDraft],
    ) -> bool:
        """Seat and plan changes and cancellation within a paid period; True if the subscription ends."""
        rng = stream(self.seed, self.tenant.id, "changes", subscription.id, period_start)
        price = item.price.at(period_start)
        interval = price.interval
        window = (settled + HOUR, period_end - HOUR)
        if window[0] >= window[1]:
            return False
        moments: list[tuple[int, str]] = []
        if price.plan.per_seat:
            count = (
                (period_end - period_start) // (4 * DAY)
                if self.hypergrowth
                else int(rng.random() < SEAT_CHANGE_RATE[interval])
            )
            moments += [(rng.randint(*window), "seats") for _ in range(count)]
        if rng.random() < PLAN_CHANGE_RATE[interval]:
            moments.append((rng.randint(*window), "plan"))
        if rng.random() < (RISKY_CHURN_RATE if self.risky else CHURN_RATE)[interval]:
            moments.append((rng.randint(*window), "cancel"))
        for at, kind in sorted(moments):
            if kind == "seats":
                self._change_seats(rng, subscription, item, at, period_start, period_end, pending)
            elif kind == "plan":
                self._change_plan(rng, subscription, item, at, period_start, period_end, pending)
            else:
                self._cancel(rng, subscription, at, period_end)
                return True
        return False

    def _change_seats(
        self,
        rng: random.Random,
        subscription: Subscription,
        item: SubscriptionItem,
        at: int,
        period_start: int,
        period_end: int,
        pending: list[LineDraft],
    ) -> None:
        price, seats = item.price.at(at), item.quantity.at(at)
        growing = self.hypergrowth or rng.random() < 0.75
        new_seats = max(1, seats + (rng.randint(1, 3) if growing else -rng.randint(1, 2)))
        if new_seats == seats:
            return
        self._prorate(at, period_start, period_end, (price, seats), (price, new_seats), pending)
        item.quantity.set(at, new_seats)
        self.history.record(at, subscription, "updated", requested=True)

    def _change_plan(
        self,
        rng: random.Random,
        subscription: Subscription,
        item: SubscriptionItem,
        at: int,
        period_start: int,
        period_end: int,
        pending: list[LineDraft],
    ) -> None:
        price, seats = item.price.at(at), item.quantity.at(at)
        plans = self.tenant.plans
        index = plans.index(price.plan)
        upgrade = index == 0 or (index < len(plans) - 1 and rng.random() < 0.7)
        plan: PlanSpec = plans[index + 1 if upgrade else index - 1]
        new_price = self.ctx.catalog.price(plan, price.interval, price.currency, at)
        # Onto a flat plan: one unit; onto per-seat from flat: the team it now counts.
        flat_to_seats = seats if price.plan.per_seat else rng.randint(2, 8)
        new_seats = flat_to_seats if plan.per_seat else 1
        self._prorate(at, period_start, period_end, (price, seats), (new_price, new_seats), pending)
        item.price.set(at, new_price)
        item.quantity.set(at, new_seats)
        self.history.record(at, subscription, "updated", requested=True)

    def _prorate(
        self,
        at: int,
        period_start: int,
        period_end: int,
        old: tuple[Price, int],
        new: tuple[Price, int],
        pending: list[LineDraft],
    ) -> None:
        when = short_date(at)
        (old_price, old_seats), (new_price, new_seats) = old, new
        pending.append(
            LineDraft(
                old_price,
                old_seats,
                -_share(old_price.unit_amount * old_seats, at, period_start, period_end),
                f"Unused time on {_times(old_seats, old_price.product.name)} after {when}",
                at,
                period_end,
                proration=True,
                credited=self.charged_line,
            )
        )
        pending.append(
            LineDraft(
                new_price,
                new_seats,
                _share(new_price.unit_amount * new_seats, at, period_start, period_end),
                f"Remaining time on {_times(new_seats, new_price.product.name)} after {when}",
                at,
                period_end,
                proration=True,
            )
        )

    def _cancel(self, rng: random.Random, subscription: Subscription, at: int, period_end: int) -> None:
        feedback = weighted(rng, CANCELLATION_FEEDBACK)
        if rng.random() < IMMEDIATE_CANCEL_SHARE:
            self._cancel_now(subscription, at, "cancellation_requested", requested=True, feedback=feedback)
            return
        subscription.canceled_at, subscription.cancel_at = at, period_end
        subscription.cancellation_reason, subscription.cancellation_feedback = (
            "cancellation_requested",
            feedback,
        )
        self.history.record(at, subscription, "updated", requested=True)
        subscription.status.set(period_end, "canceled")
        subscription.ended_at = period_end
        self.history.record(period_end, subscription, "deleted")

    def _cancel_now(
        self, subscription: Subscription, at: int, reason: str, requested: bool, feedback: str | None = None
    ) -> None:
        subscription.status.set(at, "canceled")
        subscription.canceled_at = subscription.ended_at = at
        subscription.cancellation_reason, subscription.cancellation_feedback = reason, feedback
        self.history.record(at, subscription, "deleted", requested=requested)


def charge_description(invoice: Invoice) -> str:
    return (
        "Subscription creation" if invoice.billing_reason == "subscription_create" else "Subscription update"
    )
