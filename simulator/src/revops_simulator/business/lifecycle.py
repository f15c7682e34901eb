"""What happens to customers and their cards around (and after) their subscriptions.

Cards: every customer signs up with a card attached as its default payment method; a card replaced
after a decline (billing.py's card-updated path) is detached and the new one attached, as Stripe does
(`payment_method.detached` / `payment_method.attached`, the customer's
`invoice_settings.default_payment_method` moving to the new card).

Deletions: some merchants clean up customers who churned: a while after the last subscription ended,
the customer is deleted. From then on Stripe answers a retrieve with the deleted stub
(`{"id", "object": "customer", "deleted": true}`), omits the customer from lists, and the
`customer.deleted` event carries its last state. Their invoices, charges and ended subscriptions
stay, still naming the customer id.

Deleted drafts: now and then the merchant drafts a one-off invoice for a subscribed customer (an
onboarding or migration fee) and deletes the draft before finalizing it (entered by mistake, or the
fee was waived). Stripe lets only a one-off draft be deleted: from then on retrieve answers the
deleted stub (`{"id", "object": "invoice", "deleted": true}`), lists omit it, and the
`invoice.deleted` event carries the draft as it was. A draft never took a number, posted nothing
and was never collected, so nothing but Stripe's API sees it (`History.deleted_drafts`).

Comebacks: some customers whose subscription ended subscribe again weeks or months later (the same
customer id, a new subscription); they are never the ones deleted.

Each decision draws from its own named stream, so adding these behaviours shifts no existing draw.
"""

from __future__ import annotations

import random
from datetime import date
from types import MappingProxyType

from revops_simulator.business.clock import DAY, HOUR, day_start, to_date
from revops_simulator.business.entities import (
    Customer,
    History,
    Invoice,
    InvoiceLine,
    PaymentMethod,
    Timeline,
)
from revops_simulator.business.seeding import make_id, stream

CHURNED_CUSTOMER_DELETION_SHARE = 0.2
"""Share of fully churned customers the merchant deletes (GDPR requests, CRM clean-ups)."""
DELETION_DELAY_DAYS = (3, 120)
"""Days between the end of the customer's last subscription and its deletion."""
CARD_MONTHS_LEFT = (1, 48)
"""Months a card has left when the customer enters it (it expires at the end of the last one)."""
COMEBACK_SHARE = 0.12
"""Share of customers who, once their subscription ended, subscribe again later."""
COMEBACK_AFTER_DAYS = (21, 240)
"""Days between the end of the first subscription and the new one."""
DELETED_DRAFT_SHARE = 0.1
"""Share of customers for whom the merchant drafts (and then deletes) a one-off invoice in their first
year; the draft is dated within DRAFT_AFTER_DAYS of the first subscription, while one is running."""
DRAFT_AFTER_DAYS = (7, 365)
DRAFT_LIFETIME_S = (2 * HOUR, 10 * DAY)
"""How long a draft lives before the merchant deletes it."""
ONE_OFF_FEES = MappingProxyType({"usd": 45_000, "eur": 42_000, "gbp": 36_000})
"""The one-off onboarding and data migration fee the drafts bill, by currency (minor units)."""
REISSUE_YEARS = (3, 4)
"""A reissued card's new expiry, in years after the old one."""
UPDATER_DELAY_DAYS = (0, 5)
"""Days after a card expires until the card account updater delivers the reissued card's expiry."""


def comeback(
    seed: int, tenant_id: str, customer_id: str, ended_at: int | None
) -> tuple[int, random.Random] | None:
    """When a churned customer subscribes again (and the stream to draw the new plan from), or None.

    Drawn per customer whatever its history, so deletion (which spares customers who come back) and
    the journey agree at every horizon."""
    rng = stream(seed, tenant_id, "comeback", customer_id)
    if rng.random() >= COMEBACK_SHARE or ended_at is None:
        return None
    return ended_at + rng.randint(*COMEBACK_AFTER_DAYS) * DAY + rng.randint(0, DAY - 1), rng


def comes_back(seed: int, tenant_id: str, customer_id: str) -> bool:
    return stream(seed, tenant_id, "comeback", customer_id).random() < COMEBACK_SHARE


def attach_card(history: History, customer: Customer, card: PaymentMethod) -> None:
    card.customer = customer
    history.record(card.created, card, "attached", requested=True)


def replace_card(
    history: History, customer: Customer, old: PaymentMethod, new: PaymentMethod, at: int
) -> None:
    """The customer's new card becomes the default; the failing one is detached from the customer."""
    old.detached_at = at
    history.record(at, old, "detached", requested=True)
    attach_card(history, customer, new)


def delete_churned_customers(history: History, seed: int, tenant_id: str) -> None:
    """Delete a share of the customers whose every subscription has ended (after the last end).

    A customer whose subscriptions are all ended at this horizon keeps them ended at any later one
    (the journey that ended them is already complete), so the decision is the same at every horizon.
    """
    subscriptions: dict[str, list[int | None]] = {}
    for subscription in history.subscriptions:
        subscriptions.setdefault(subscription.customer.id, []).append(subscription.ended_at)
    for customer in history.customers:
        ends = subscriptions.get(customer.id)
        if not ends or any(end is None for end in ends) or comes_back(seed, tenant_id, customer.id):
            continue
        rng = stream(seed, tenant_id, "customer-deletion", customer.id)
        if rng.random() >= CHURNED_CUSTOMER_DELETION_SHARE:
            continue
        last_end = max(end for end in ends if end is not None)
        customer.deleted_at = last_end + rng.randint(*DELETION_DELAY_DAYS) * DAY + rng.randint(0, DAY - 1)
        history.record(customer.deleted_at, customer, "deleted", requested=True)


def draft_and_delete_one_off_invoices(history: History, seed: int, tenant_id: str) -> None:
    """One-off invoices drafted for a share of the customers and deleted before finalization.

    Drawn per customer from its own stream; a draft is dated only while one of the customer's
    subscriptions runs, which is known the same way at any horizon that has reached that date."""
    subscriptions: dict[str, list[tuple[int, int | None, str]]] = {}
    for subscription in history.subscriptions:
        subscriptions.setdefault(subscription.customer.id, []).append(
            (subscription.created, subscription.ended_at, subscription.currency)
        )
    for customer in history.customers:
        spans = subscriptions.get(customer.id)
        rng = stream(seed, tenant_id, "deleted-draft", customer.id)
        if not spans or rng.random() >= DELETED_DRAFT_SHARE:
            continue
        first = min(start for start, _, _ in spans)
        created = first + rng.randint(*DRAFT_AFTER_DAYS) * DAY + rng.randint(0, DAY - 1)
        lifetime = rng.randint(*DRAFT_LIFETIME_S)
        running = [
            currency for start, end, currency in spans if start <= created and (end is None or end > created)
        ]
        if created > history.horizon or not running:
            continue
        currency = customer.currency.at(created) or running[0]
        invoice = Invoice(
            id=make_id("in_", seed, tenant_id, "one-off-invoice", customer.id, created),
            created=created,
            customer=customer,
            subscription=None,
            billing_reason="manual",
            currency=currency,
            period_start=created,
            period_end=created,
            number="",  # a draft has no number yet; finalizing would take the customer's next one
            starting_balance=customer.balance.at(created),
            next_payment_attempt=Timeline(None),
            deleted_at=created + lifetime,
        )
        invoice.lines = [
            InvoiceLine(
                id=make_id("il_", seed, tenant_id, "one-off-line", invoice.id),
                invoice=invoice,
                item=None,
                price=None,
                quantity=1,
                amount=ONE_OFF_FEES[currency],
                description="Onboarding and data migration",
                period_start=created,
                period_end=created,
                proration=False,
                credited=None,
            )
        ]
        history.deleted_drafts.append(invoice)
        history.record(created, invoice, "created", requested=True)
        history.record(created + lifetime, invoice, "deleted", requested=True)


def renew_expired_cards(history: History, seed: int, tenant_id: str) -> None:
    """The card account updater: an attached card that expires gets its reissued expiry a few days
    later (`payment_method.automatically_updated`), so live customers' cards expire at any month, some
    within the next 30 days of whatever the clock is. Renewals are generated up to the horizon only;
    a later horizon continues the same sequence."""
    for card in history.payment_methods:
        # A card is entered somewhere in its life: it has 1 to 48 months left (to the end of a month).
        created = to_date(card.created)
        left = stream(seed, tenant_id, "card-expiry", card.id).randint(*CARD_MONTHS_LEFT)
        months = created.year * 12 + created.month - 1 + left
        card.exp_year, card.exp_month = months // 12, months % 12 + 1
        rng = stream(seed, tenant_id, "card-updater", card.id)
        month, year = card.exp_month, card.exp_year
        while True:
            # A card works through the last day of its expiry month.
            expired = day_start(date(year + month // 12, month % 12 + 1, 1))
            at = expired + rng.randint(*UPDATER_DELAY_DAYS) * DAY + rng.randint(0, DAY - 1)
            if at > history.horizon or not attached(card, at):
                break
            year += rng.randint(*REISSUE_YEARS)
            card.renewals.append((at, month, year))
            history.record(at, card, "automatically_updated")


def deleted(customer: Customer, t: int) -> bool:
    return customer.deleted_at is not None and customer.deleted_at <= t


def attached(card: PaymentMethod, t: int) -> bool:
    """Whether `card` is attached to a (live) customer at `t`: listed among the customer's cards."""
    return (
        card.created <= t
        and card.customer is not None
        and not deleted(card.customer, t)
        and (card.detached_at is None or card.detached_at > t)
    )
