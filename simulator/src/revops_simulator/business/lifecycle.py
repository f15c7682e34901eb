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

Each decision draws from its own named stream, so adding these behaviours shifts no existing draw.
"""

from __future__ import annotations

from revops_simulator.business.clock import DAY
from revops_simulator.business.entities import Customer, History, PaymentMethod
from revops_simulator.business.seeding import stream

CHURNED_CUSTOMER_DELETION_SHARE = 0.2
"""Share of fully churned customers the merchant deletes (GDPR requests, CRM clean-ups)."""
DELETION_DELAY_DAYS = (3, 120)
"""Days between the end of the customer's last subscription and its deletion."""


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
        if not ends or any(end is None for end in ends):
            continue
        rng = stream(seed, tenant_id, "customer-deletion", customer.id)
        if rng.random() >= CHURNED_CUSTOMER_DELETION_SHARE:
            continue
        last_end = max(end for end in ends if end is not None)
        customer.deleted_at = last_end + rng.randint(*DELETION_DELAY_DAYS) * DAY + rng.randint(0, DAY - 1)
        history.record(customer.deleted_at, customer, "deleted", requested=True)


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
