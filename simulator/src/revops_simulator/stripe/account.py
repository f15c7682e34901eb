"""One workspace's Stripe account as the API serves it at the clock: what exists, in list order.

Built once per clock position (the world swaps in a new one when it advances), so every index is
immutable and requests never lock. Renders are cached per account for the same reason.
"""

from __future__ import annotations

import fnmatch
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from revops_simulator.business.clock import DAY
from revops_simulator.business.entities import (
    BalanceTransaction,
    Change,
    Charge,
    Coupon,
    Customer,
    Discount,
    Dispute,
    Entity,
    History,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    PaymentIntent,
    PaymentMethod,
    Payout,
    Price,
    Product,
    PromotionCode,
    Refund,
    Subscription,
    SubscriptionItem,
    TaxRate,
)
from revops_simulator.business.lifecycle import attached, deleted
from revops_simulator.business.seeding import make_id, stable_hash
from revops_simulator.business.tenants import Tenant
from revops_simulator.stripe.render import JSON, Renderer, event_types

EVENT_RETENTION = 30 * DAY

RESOURCES = (
    "customers",
    "payment_methods",
    "products",
    "prices",
    "subscriptions",
    "subscription_items",
    "invoices",
    "invoice_line_items",
    "invoice_payments",
    "charges",
    "payment_intents",
    "refunds",
    "disputes",
    "payouts",
    "balance_transactions",
    "tax_rates",
    "coupons",
    "promotion_codes",
    "events",
)


@dataclass(frozen=True, eq=False)
class EventRecord:
    id: str
    created: int
    type: str
    change: Change


Item = Entity | InvoiceLine | Discount | EventRecord
Filter = Callable[[Any, int], object]


_RESOURCES_BY_TYPE: dict[type, str] = {
    Customer: "customers",
    PaymentMethod: "payment_methods",
    Product: "products",
    Price: "prices",
    Subscription: "subscriptions",
    SubscriptionItem: "subscription_items",
    Invoice: "invoices",
    InvoiceLine: "invoice_line_items",
    InvoicePayment: "invoice_payments",
    Charge: "charges",
    PaymentIntent: "payment_intents",
    Refund: "refunds",
    Dispute: "disputes",
    Payout: "payouts",
    BalanceTransaction: "balance_transactions",
    TaxRate: "tax_rates",
    Coupon: "coupons",
    PromotionCode: "promotion_codes",
    Discount: "discounts",
    EventRecord: "events",
}


def resource_of(item: Item) -> str:
    return _RESOURCES_BY_TYPE[type(item)]


def _id_of(entity: Entity | None) -> str | None:
    return entity.id if entity is not None else None


def _flag(value: bool) -> str:
    return "true" if value else "false"


# Equality filters each list endpoint accepts, as (query parameter → value of an object at the clock).
FILTERS: Mapping[str, Mapping[str, Filter]] = {
    "customers": {"email": lambda customer, t: customer.email},
    "payment_methods": {
        "customer": lambda card, t: card.customer.id if card.customer is not None else None,
        "type": lambda card, t: "card",
    },
    "products": {"active": lambda product, t: _flag(product.active.at(t))},
    "prices": {
        "active": lambda price, t: _flag(price.active.at(t)),
        "currency": lambda price, t: price.currency,
        "product": lambda price, t: price.product.id,
        "type": lambda price, t: "recurring",
    },
    "subscriptions": {
        "customer": lambda subscription, t: subscription.customer.id,
        "price": lambda subscription, t: subscription.items[0].price.at(t).id,
    },
    "subscription_items": {"subscription": lambda item, t: item.subscription.id},
    "invoices": {
        "customer": lambda invoice, t: invoice.customer.id,
        "subscription": lambda invoice, t: _id_of(invoice.subscription),
        "status": lambda invoice, t: invoice.status_at(t),
    },
    "invoice_payments": {
        "invoice": lambda payment, t: payment.invoice.id,
        "status": lambda payment, t: payment.status_at(t),
    },
    "charges": {
        "customer": lambda charge, t: charge.customer.id,
        "payment_intent": lambda charge, t: charge.payment_intent.id,
    },
    "payment_intents": {"customer": lambda intent, t: intent.invoice.customer.id},
    "refunds": {
        "charge": lambda refund, t: refund.charge.id,
        "payment_intent": lambda refund, t: refund.charge.payment_intent.id,
    },
    "disputes": {
        "charge": lambda dispute, t: dispute.charge.id,
        "payment_intent": lambda dispute, t: dispute.charge.payment_intent.id,
    },
    "payouts": {
        "status": lambda payout, t: payout.status_at(t),
        "destination": lambda payout, t: payout.destination,
    },
    "balance_transactions": {
        "payout": lambda transaction, t: _id_of(transaction.payout),
        "type": lambda transaction, t: transaction.type,
        "source": lambda transaction, t: transaction.source,
        "currency": lambda transaction, t: transaction.currency,
    },
    "tax_rates": {
        "active": lambda rate, t: _flag(rate.active.at(t)),
        "inclusive": lambda rate, t: _flag(rate.inclusive),
    },
    "promotion_codes": {
        "active": lambda code, t: _flag(code.active.at(t)),
        "code": lambda code, t: code.code,
        "coupon": lambda code, t: code.coupon.id,
        "customer": lambda code, t: None,
    },
}


class ListingError(ValueError):
    """A list request that names a cursor the list does not know."""


class Listing:
    """One list's objects in the order the API serves them, with cursor pagination."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)
        self.rank = {item.id: position for position, item in enumerate(self.items)}
        self._selections: dict[tuple[object, ...], list[int]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def select(self, key: tuple[object, ...], keep: Callable[[Any], bool] | None) -> Sequence[int]:
        """Positions of the items `keep` accepts; cached under `key` so paging through is cheap."""
        if keep is None:
            return range(len(self.items))
        positions = self._selections.get(key)
        if positions is None:
            positions = [position for position, item in enumerate(self.items) if keep(item)]
            if len(self._selections) > 256:
                self._selections.clear()
            self._selections[key] = positions
        return positions

    def page(
        self, positions: Sequence[int], limit: int, starting_after: str | None, ending_before: str | None
    ) -> tuple[list[Item], bool]:
        if ending_before is not None:
            end = bisect_left(positions, self._cursor(ending_before))
            start = max(0, end - limit)
            return [self.items[p] for p in positions[start:end]], start > 0
        start = 0 if starting_after is None else bisect_right(positions, self._cursor(starting_after))
        end = start + limit
        return [self.items[p] for p in positions[start:end]], end < len(positions)

    def _cursor(self, object_id: str) -> int:
        position = self.rank.get(object_id)
        if position is None:
            raise ListingError(object_id)
        return position


def newest_first(items: Sequence[Item]) -> list[Item]:
    return sorted(items, key=lambda item: (item.created, item.id), reverse=True)


class StripeAccount:
    def __init__(self, history: History, tenant: Tenant, seed: int, now: int) -> None:
        self.tenant = tenant
        self.seed = seed
        self.now = now
        self.renderer = Renderer(tenant, seed, now)

        def existing(entities: Sequence[Entity]) -> list[Item]:
            return newest_first([entity for entity in entities if entity.created <= now])

        items: list[Item] = [
            item
            for subscription in history.subscriptions
            if subscription.created <= now
            for item in subscription.items
            if item.created <= now
        ]
        # A one-off draft is listed until the merchant deletes it; then only its stub answers.
        invoices = [invoice for invoice in history.invoices if invoice.created <= now] + [
            draft for draft in history.deleted_drafts if draft.created <= now and not self._deleted(draft)
        ]
        lines: list[Item] = [line for invoice in newest_first(invoices) for line in invoice.lines]
        self.listings: dict[str, Listing] = {
            # Lists omit deleted customers and detached cards; `gone` still finds them by id.
            "customers": Listing(
                existing([customer for customer in history.customers if not deleted(customer, now)])
            ),
            "payment_methods": Listing(
                newest_first([card for card in history.payment_methods if attached(card, now)])
            ),
            "products": Listing(existing(history.products)),
            "prices": Listing(existing(history.prices)),
            "subscriptions": Listing(existing(history.subscriptions)),
            "subscription_items": Listing(newest_first(items)),
            "invoices": Listing(newest_first(invoices)),
            "invoice_line_items": Listing(lines),
            "invoice_payments": Listing(existing(history.invoice_payments)),
            "charges": Listing(existing(history.charges)),
            "payment_intents": Listing(existing(history.payment_intents)),
            "refunds": Listing(existing(history.refunds)),
            "disputes": Listing(existing(history.disputes)),
            "payouts": Listing(existing(history.payouts)),
            "balance_transactions": Listing(existing(history.balance_transactions)),
            "tax_rates": Listing(existing(history.tax_rates)),
            # Lists leave deleted coupons out; retrieving one answers Stripe's deleted stub.
            "coupons": Listing(existing([c for c in history.coupons if not self._deleted(c)])),
            "promotion_codes": Listing(existing(history.promotion_codes)),
            # Not a list Stripe serves: what `expand[]=discounts` on an invoice or subscription finds.
            "discounts": Listing(self._discounts(history)),
            "events": Listing(newest_first(self._events(history))),
        }
        self.gone: dict[str, dict[str, Item]] = {
            "customers": {c.id: c for c in history.customers if deleted(c, now)},
            "payment_methods": {
                card.id: card
                for card in history.payment_methods
                if card.created <= now and not attached(card, now)
            },
        }
        subscriptions: dict[str, list[Subscription]] = {}
        for subscription in history.subscriptions:
            if subscription.created <= now:
                subscriptions.setdefault(subscription.customer.id, []).append(subscription)
        self._deleted_lines = {
            line.id for draft in history.deleted_drafts if self._deleted(draft) for line in draft.lines
        }
        self._returned = {customer for customer, subs in subscriptions.items() if len(subs) > 1}
        self._cards: dict[str, list[Item]] = {}
        for card in self.listings["payment_methods"].items:
            assert isinstance(card, PaymentMethod) and card.customer is not None
            self._cards.setdefault(card.customer.id, []).append(card)
        self._malformed: dict[tuple[int, str, int], frozenset[str]] = {}
        self.deleted: dict[str, dict[str, str]] = {
            "coupons": {coupon.id: "coupon" for coupon in history.coupons if self._deleted(coupon)},
            "invoices": {draft.id: "invoice" for draft in history.deleted_drafts if self._deleted(draft)},
        }
        """Objects deleted by the clock, by resource: id → object name (for the deleted stub)."""

    def _discounts(self, history: History) -> list[Item]:
        given = [s.discount for s in history.subscriptions] + [i.discount for i in history.invoices]
        unique = {d.id: d for d in given if d is not None and d.start <= self.now}
        return sorted(unique.values(), key=lambda d: (d.start, d.id), reverse=True)

    def _deleted(self, entity: Coupon | Invoice) -> bool:
        return entity.created <= self.now and entity.deleted_at is not None and entity.deleted_at <= self.now

    def deleted_stub(self, resource: str, object_id: str) -> JSON | None:
        """What retrieving a deleted object answers: `{id, object, deleted: true}`."""
        name = self.deleted.get(resource, {}).get(object_id)
        return {"id": object_id, "object": name, "deleted": True} if name is not None else None

    def _events(self, history: History) -> list[EventRecord]:
        # /v1/events reaches back 30 days from the clock.
        oldest = self.now - EVENT_RETENTION
        return [
            EventRecord(
                make_id("evt_", self.seed, self.tenant.id, change.entity.id, event_type, change.t),
                change.t,
                event_type,
                change,
            )
            for change in history.changes
            if oldest < change.t <= self.now
            for event_type in event_types(change)
        ]

    def find(self, resource: str, object_id: str) -> Item | None:
        listing = self.listings[resource]
        position = listing.rank.get(object_id)
        if position is None:
            return self.gone.get(resource, {}).get(object_id)
        return listing.items[position]

    def lifecycle(self) -> dict[str, set[str]]:
        """Ground truth of the lifecycle behaviours at the clock, by kind (ids)."""
        detached = {
            card.id
            for card in self.gone["payment_methods"].values()
            if isinstance(card, PaymentMethod) and card.detached_at is not None
        }
        return {
            "detached_payment_methods": detached,
            # Cards no list serves any more: detached ones and those of deleted customers.
            "unlisted_payment_methods": set(self.gone["payment_methods"]),
            # Customers who churned and came back with a new subscription (same customer id).
            "returning_customers": set(self._returned),
            # Lines of the one-off drafts deleted by the clock (listed with their draft before).
            "deleted_invoice_lines": set(self._deleted_lines),
        }

    def archived(self) -> dict[str, set[str]]:
        """Products and prices archived by the clock (`active: false`): still listed and retrievable."""
        return {
            resource: {
                item.id
                for item in self.listings[resource].items
                if isinstance(item, Product | Price) and not item.active.at(self.now)
            }
            for resource in ("products", "prices")
        }

    def cards_of(self, customer_id: str) -> list[Item]:
        """The cards attached to a customer, newest first (`GET /v1/customers/{id}/payment_methods`)."""
        return self._cards.get(customer_id, [])

    def render(self, item: Item) -> JSON:
        if isinstance(item, EventRecord):
            return self.renderer.event(item.id, item.type, item.change)
        return self.renderer.render(item)

    def includable(self, item: Item, field: str) -> tuple[bool, Any]:
        """(whether `field` is one Stripe includes only on request for `item`, its value)."""
        if isinstance(item, Price) and field == "tiers":
            return True, self.renderer.price_tiers(item)
        return False, None

    def balance(self) -> dict[str, int]:
        available = pending = 0
        for transaction in self.listings["balance_transactions"].items:
            assert isinstance(transaction, BalanceTransaction)
            if transaction.available_on <= self.now:
                available += transaction.net
            else:
                pending += transaction.net
        return {"available": available, "pending": pending}

    def malformed_ids(self, seed: int, resource: str, count: int) -> frozenset[str]:
        """The `count` objects of `resource` a fault plan with `seed` corrupts: a stable hash ranking."""
        key = (seed, resource, count)
        chosen = self._malformed.get(key)
        if chosen is None:
            ranked = sorted(
                self.listings[resource].items,
                key=lambda item: stable_hash("malformed", seed, resource, item.id),
            )
            chosen = self._malformed[key] = frozenset(item.id for item in ranked[:count])
        return chosen


def event_type_filter(patterns: Sequence[str]) -> Callable[[Any], bool]:
    """Stripe's `type`/`types[]` matching, where `*` is a wildcard (`invoice.*`)."""
    exact = {pattern for pattern in patterns if "*" not in pattern}
    wildcards = [pattern for pattern in patterns if "*" in pattern]
    return lambda record: record.type in exact or any(fnmatch.fnmatchcase(record.type, w) for w in wildcards)
