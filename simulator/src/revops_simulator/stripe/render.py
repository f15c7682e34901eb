"""The simulated account's records as Stripe API objects, as they stood at a given instant."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from revops_simulator.business.billing import charge_description
from revops_simulator.business.clock import to_date
from revops_simulator.business.entities import (
    BalanceTransaction,
    Change,
    Charge,
    Coupon,
    Customer,
    Discount,
    Dispute,
    Entity,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    LineTax,
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
    seen,
)
from revops_simulator.business.lifecycle import deleted
from revops_simulator.business.seeding import base62, make_id, stable_hash
from revops_simulator.business.tenants import Tenant
from revops_simulator.stripe.templates import fill, fixtures

API_VERSION = "2026-10-28.endive"
EMBEDDED_LIST_LIMIT = 10
"""Stripe embeds at most this many entries of a sub-list (`items`, `lines`, `refunds`) in an object."""

JSON = dict[str, Any]

_EVENT_PREFIX: dict[type, str] = {
    Product: "product",
    Price: "price",
    Customer: "customer",
    PaymentMethod: "payment_method",
    Subscription: "customer.subscription",
    Invoice: "invoice",
    InvoicePayment: "invoice_payment",
    PaymentIntent: "payment_intent",
    Charge: "charge",
    Refund: "refund",
    Dispute: "charge.dispute",
    Payout: "payout",
    TaxRate: "tax_rate",
    Coupon: "coupon",
    PromotionCode: "promotion_code",
}
_NETWORK_ADVICE = {"try_again_later": "02", "do_not_try_again": "03", "confirm_card_data": "01"}


def event_types(change: Change) -> tuple[str, ...]:
    """The Stripe event types a change is announced with."""
    base = f"{_EVENT_PREFIX[type(change.entity)]}.{change.action}"
    # Stripe still sends the older alias alongside `invoice.paid`.
    return (base, "invoice.payment_succeeded") if base == "invoice.paid" else (base,)


def _line_item_fields(line: InvoiceLine) -> JSON:
    """What every invoice line item carries, whatever it bills (a subscription item or an invoice item)."""
    return {
        "amount": line.amount,
        "currency": line.invoice.currency,
        "description": line.description,
        "id": line.id,
        "invoice": line.invoice.id,
        "livemode": False,
        "metadata": {},
        "object": "line_item",
        "period": {"end": line.period_end, "start": line.period_start},
        "quantity": line.quantity,
        "quantity_decimal": str(line.quantity),
        "pretax_credit_amounts": [],
        "subtotal": line.amount,
    }


def _line_tax(tax: LineTax) -> JSON:
    return {
        "amount": tax.amount,
        "tax_behavior": "inclusive" if tax.rate.inclusive else "exclusive",
        "tax_rate_details": {"tax_rate": tax.rate.id},
        "taxability_reason": tax.taxability_reason,
        "taxable_amount": tax.taxable_amount,
        "type": "tax_rate_details",
    }


def _total_taxes(invoice: Invoice) -> list[JSON]:
    """The invoice's taxes summed per rate and taxability, as Stripe aggregates them."""
    totals: dict[tuple[str, str], JSON] = {}
    for line in invoice.lines:
        if line.tax is None:
            continue
        key = (line.tax.rate.id, line.tax.taxability_reason)
        entry = totals.get(key)
        if entry is None:
            totals[key] = _line_tax(line.tax)
        else:
            entry["amount"] += line.tax.amount
            entry["taxable_amount"] += line.tax.taxable_amount
    return list(totals.values())


def embedded_list(data: Sequence[JSON], url: str) -> JSON:
    return {
        "object": "list",
        "data": list(data[:EMBEDDED_LIST_LIMIT]),
        "has_more": len(data) > EMBEDDED_LIST_LIMIT,
        "url": url,
    }


class Renderer:
    """Renders entities for one tenant's account; renders at the clock (`now`) are cached."""

    def __init__(self, tenant: Tenant, seed: int, now: int) -> None:
        self.tenant = tenant
        self.seed = seed
        self.now = now
        self.account_id = make_id("acct_", seed, tenant.id, "account", length=16)
        self._cache: dict[str, JSON] = {}
        # Globex quotes VAT-inclusive prices; Acme adds tax on top (business/tax.py).
        self.inclusive_tax = tenant.country != "US"
        self._renderers: dict[type, Callable[[Any, int], JSON]] = {
            Product: self._product,
            Price: self._price,
            Customer: self._customer,
            PaymentMethod: self._payment_method,
            Subscription: self._subscription,
            SubscriptionItem: self._subscription_item,
            Invoice: self._invoice,
            InvoiceLine: self._line_item,
            InvoicePayment: self._invoice_payment,
            PaymentIntent: self._payment_intent,
            Charge: self._charge,
            Refund: self._refund,
            Dispute: self._dispute,
            Payout: self._payout,
            BalanceTransaction: self._balance_transaction,
            TaxRate: self._tax_rate,
            Coupon: self._coupon,
            PromotionCode: self._promotion_code,
            Discount: self._discount,
        }

    def render(self, entity: Entity | InvoiceLine | Discount, t: int | None = None) -> JSON:
        """`entity` as of `t` (default: the clock). Cached renders are shared: copy before changing."""
        if t is None or t == self.now:
            cached = self._cache.get(entity.id)
            if cached is None:
                cached = self._cache[entity.id] = self._renderers[type(entity)](entity, self.now)
            return cached
        return self._renderers[type(entity)](entity, t)

    def event(self, event_id: str, event_type: str, change: Change) -> JSON:
        """The event announcing `change`; cached, since an event never changes once it happened."""
        cached = self._cache.get(event_id)
        if cached is None:
            cached = self._cache[event_id] = self._event(event_id, event_type, change)
        return cached

    def _event(self, event_id: str, event_type: str, change: Change) -> JSON:
        # `customer.deleted` and `invoice.deleted` carry the last state, not the stub retrieve answers after.
        gone = change.action == "deleted" and isinstance(change.entity, Customer | Invoice)
        snapshot = self.render(change.entity, change.t - 1 if gone else change.t)
        data: JSON = {"object": snapshot}
        if change.action == "updated":
            before = self.render(change.entity, change.t - 1)
            data["previous_attributes"] = {
                key: value for key, value in before.items() if snapshot[key] != value
            }
        if change.requested:
            request = {
                "id": make_id("req_", self.seed, event_id, length=14),
                "idempotency_key": str(
                    uuid.UUID(int=stable_hash("idempotency", change.entity.id, change.t, bits=128))
                ),
            }
        else:
            request = {"id": None, "idempotency_key": None}
        return fill(
            "event",
            api_version=API_VERSION,
            created=change.t,
            data=data,
            id=event_id,
            livemode=False,
            object="event",
            pending_webhooks=0,
            request=request,
            type=event_type,
        )

    def _token(self, *parts: object, length: int = 40) -> str:
        return base62(stable_hash(self.seed, *parts, bits=6 * length), length)

    # --- catalog ---

    def _product(self, product: Product, t: int) -> JSON:
        return fill(
            "product",
            active=product.active.at(t),
            created=product.created,
            default_price=product.default_price.at(t),
            description=product.description,
            id=product.id,
            images=[],
            livemode=False,
            marketing_features=[],
            metadata={},
            name=product.name,
            object="product",
            tax_code="txcd_10103001",
            unit_label=product.unit_label,
            updated=product.updated.at(t),
            type="service",
        )

    def _price(self, price: Price, t: int) -> JSON:
        return fill(
            "price",
            active=price.active.at(t),
            billing_scheme="tiered" if price.metered else "per_unit",
            created=price.created,
            currency=price.currency,
            id=price.id,
            livemode=False,
            lookup_key=price.lookup_key,
            metadata={"meter": price.meter} if price.meter else {},
            nickname=price.nickname,
            object="price",
            product=price.product.id,
            recurring={
                "interval": price.interval,
                "interval_count": 1,
                "meter": self._meter_id(price),
                "usage_type": "metered" if price.metered else "licensed",
                "trial_period_days": None,
            },
            tax_behavior="inclusive" if self.inclusive_tax else "exclusive",
            tiers_mode="graduated" if price.metered else None,
            type="recurring",
            unit_amount=None if price.metered else price.unit_amount,
            unit_amount_decimal=None if price.metered else str(price.unit_amount),
        )

    @staticmethod
    def price_tiers(price: Price) -> list[JSON] | None:
        """A price's `tiers`, which Stripe includes only when asked (`expand[]=tiers`)."""
        if not price.metered:
            return None
        return [
            {
                "flat_amount": tier.flat_amount,
                "flat_amount_decimal": str(tier.flat_amount),
                "unit_amount": tier.unit_amount,
                "unit_amount_decimal": str(tier.unit_amount),
                "up_to": tier.up_to,
            }
            for tier in price.tiers
        ]

    def _meter_id(self, price: Price) -> str | None:
        return make_id("mtr_", self.seed, price.product.id, price.meter) if price.meter else None

    @staticmethod
    def _plan(price: Price, price_object: JSON) -> JSON:
        """The legacy `plan` view Stripe still attaches to subscription items."""
        return {
            "active": price_object["active"],
            "amount": price_object["unit_amount"],
            "amount_decimal": price_object["unit_amount_decimal"],
            "billing_scheme": price_object["billing_scheme"],
            "created": price.created,
            "currency": price.currency,
            "id": price.id,
            "interval": price.interval,
            "interval_count": 1,
            "livemode": False,
            "metadata": {},
            "meter": price_object["recurring"]["meter"],
            "nickname": price.nickname,
            "object": "plan",
            "product": price.product.id,
            "tiers_mode": price_object["tiers_mode"],
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": price_object["recurring"]["usage_type"],
        }

    # --- customers and subscriptions ---

    @staticmethod
    def _address(customer: Customer) -> JSON:
        return {
            "city": customer.city,
            "country": customer.country,
            "line1": customer.line1,
            "line2": None,
            "postal_code": customer.postal_code,
            "state": customer.state,
        }

    def _customer(self, customer: Customer, t: int) -> JSON:
        if deleted(customer, t):
            # Stripe's DeletedCustomer: all a retrieve (or an expansion) answers once it is deleted.
            return {"id": customer.id, "object": "customer", "deleted": True}
        return fill(
            "customer",
            address=self._address(customer),
            balance=customer.balance.at(t),
            created=customer.created,
            currency=customer.currency.at(t),
            delinquent=customer.delinquent.at(t),
            email=customer.email,
            id=customer.id,
            invoice_prefix=customer.invoice_prefix,
            invoice_settings={
                "custom_fields": None,
                "default_payment_method": customer.payment_method.at(t).id,
                "footer": None,
                "rendering_options": None,
            },
            livemode=False,
            metadata={"signup_channel": customer.signup_channel},
            name=customer.name,
            next_invoice_sequence=customer.next_invoice_sequence.at(t),
            object="customer",
            phone=customer.phone,
            preferred_locales=[customer.locale],
            tax_exempt=customer.tax_exempt,
        )

    def _payment_method(self, card: PaymentMethod, t: int) -> JSON:
        customer = card.customer
        detached = seen(card.detached_at, t) is not None
        exp_month, exp_year = card.expiry_at(t)
        billing_details: JSON = {
            "address": self._address(customer) if customer is not None else None,
            "email": customer.email if customer is not None else None,
            "name": customer.name if customer is not None else None,
            "phone": customer.phone if customer is not None else None,
            "tax_id": None,
        }
        return fill(
            "payment_method",
            allow_redisplay="unspecified",
            billing_details=billing_details,
            card={
                "brand": card.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "country": card.country,
                "display_brand": card.brand,
                "exp_month": exp_month,
                "exp_year": exp_year,
                "fingerprint": card.fingerprint,
                "funding": card.funding,
                "generated_from": None,
                "last4": card.last4,
                "networks": {"available": [card.brand], "preferred": None},
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
                "regulated_status": "unregulated",
            },
            created=card.created,
            # A detached card no longer belongs to anyone; Stripe nulls `customer`.
            customer=None if detached or customer is None else customer.id,
            id=card.id,
            livemode=False,
            metadata={},
            object="payment_method",
            type="card",
            customer_account=None,
        )

    def _subscription_item(self, item: SubscriptionItem, t: int) -> JSON:
        price = item.price.at(t)
        price_object = self.render(price, t)
        period_start, period_end = item.period.at(t)
        return fill(
            "subscription_item",
            created=item.created,
            discounts=[],
            id=item.id,
            metadata={},
            object="subscription_item",
            price=price_object,
            # Metered items have no quantity: usage decides what they bill.
            quantity=None if price.metered else item.quantity.at(t),
            subscription=item.subscription.id,
            tax_rates=[],
            plan=self._plan(price, price_object),
            current_period_end=period_end,
            current_period_start=period_start,
        )

    def _subscription(self, subscription: Subscription, t: int) -> JSON:
        requested = seen(subscription.canceled_at, t)
        latest_invoice = subscription.latest_invoice.at(t)
        items = [self.render(item, t) for item in subscription.items if item.created <= t]
        rate = subscription.tax_rate.at(t)
        discount = subscription.discount
        return fill(
            "subscription",
            automatic_tax={
                "disabled_reason": None,
                "enabled": not self.inclusive_tax,
                "liability": {"account": None, "type": "self"} if not self.inclusive_tax else None,
            },
            billing_cycle_anchor=subscription.billing_cycle_anchor,
            cancel_at=subscription.cancel_at if requested else None,
            canceled_at=requested,
            cancellation_details={
                "comment": None,
                "feedback": subscription.cancellation_feedback if requested else None,
                "reason": subscription.cancellation_reason if requested else None,
            },
            collection_method="charge_automatically",
            created=subscription.created,
            currency=subscription.currency,
            customer=subscription.customer.id,
            default_tax_rates=[self.render(rate, t)] if rate is not None else [],
            # A subscription that ended keeps the discounts it had then.
            discounts=[discount.id]
            if discount is not None and discount.applies(min(t, seen(subscription.ended_at, t) or t))
            else [],
            ended_at=seen(subscription.ended_at, t),
            id=subscription.id,
            invoice_settings={
                "account_tax_ids": None,
                "issuer": {"type": "self"},
                "custom_fields": None,
                "description": None,
                "footer": None,
            },
            items=embedded_list(items, f"/v1/subscription_items?subscription={subscription.id}"),
            latest_invoice=latest_invoice.id if latest_invoice is not None else None,
            livemode=False,
            metadata={},
            object="subscription",
            payment_settings={
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            start_date=subscription.created,
            status=subscription.status.at(t),
            trial_end=subscription.trial_end,
            trial_settings={"end_behavior": {"missing_payment_method": "create_invoice"}},
            trial_start=subscription.trial_start,
            cancel_at_period_end=requested is not None and subscription.cancel_at is not None,
            billing_mode={"flexible": None, "type": "classic"},
            managed_payments={"enabled": False},
            billing_schedules=[],
        )

    # --- invoices ---

    def _line_item(self, line: InvoiceLine, t: int) -> JSON:
        subscription = line.invoice.subscription
        discount = line.invoice.discount
        credited = None
        if line.credited is not None:
            credited = {
                "credited_items": {"invoice": line.credited[0], "invoice_line_items": [line.credited[1]]}
            }
        if subscription is None or line.item is None or line.price is None:
            return self._one_off_line(line)
        return fill(
            "line_item",
            **_line_item_fields(line),
            discount_amounts=[{"amount": line.discount_amount, "discount": discount.id}]
            if discount is not None and line.discount_amount
            else [],
            discountable=not line.proration,
            discounts=[discount.id] if discount is not None and line.discount_amount else [],
            subscription=subscription.id,
            taxes=[_line_tax(line.tax)] if line.tax is not None else [],
            parent={
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": make_id("ii_", self.seed, line.id) if line.proration else None,
                    "proration": line.proration,
                    "proration_details": credited,
                    "subscription": subscription.id,
                    "subscription_item": line.item.id,
                },
                "type": "subscription_item_details",
            },
            pricing={
                "price_details": {"price": line.price.id, "product": line.price.product.id},
                "type": "price_details",
                "unit_amount_decimal": None if line.price.metered else str(line.price.unit_amount),
            },
        )

    def _one_off_line(self, line: InvoiceLine) -> JSON:
        """A one-off invoice's line: an invoice item the merchant entered as an amount (no price)."""
        return fill(
            "line_item",
            **_line_item_fields(line),
            discount_amounts=[],
            discountable=True,
            discounts=[],
            subscription=None,
            taxes=[],
            parent={
                "invoice_item_details": {
                    "invoice_item": make_id("ii_", self.seed, line.id),
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": None,
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            },
            pricing={
                "price_details": None,
                "type": "price_details",
                "unit_amount_decimal": str(line.amount // line.quantity),
            },
        )

    def _invoice(self, invoice: Invoice, t: int) -> JSON:
        status = invoice.status_at(t)
        finalized = seen(invoice.finalized_at, t)
        attempts = sum(1 for charge in invoice.charges if charge.created <= t)
        paid = invoice.amount_due if status == "paid" else 0
        customer = invoice.customer
        token = self._token("invoice", invoice.id)
        lines = [self.render(line, t) for line in invoice.lines]
        discount = invoice.discount
        return fill(
            "invoice",
            account_country=self.tenant.country,
            account_name=self.tenant.name,
            amount_due=invoice.amount_due,
            amount_paid=paid,
            amount_remaining=invoice.amount_due - paid,
            amount_shipping=0,
            attempt_count=attempts,
            attempted=attempts > 0 or status == "paid",
            # A one-off invoice created through the API does not advance on its own (Stripe's default
            # since 2018-11-08): the merchant finalizes it, or here deletes it.
            auto_advance=status in ("draft", "open") and invoice.subscription is not None,
            automatic_tax={
                "disabled_reason": None,
                "enabled": invoice.automatic_tax,
                "liability": {"account": None, "type": "self"} if invoice.automatic_tax else None,
                "provider": "stripe" if invoice.automatic_tax else None,
                "status": "complete" if invoice.automatic_tax else None,
            },
            billing_reason=invoice.billing_reason,
            collection_method="charge_automatically",
            created=invoice.created,
            currency=invoice.currency,
            customer=customer.id,
            customer_address=self._address(customer),
            customer_email=customer.email,
            customer_name=customer.name,
            customer_phone=customer.phone,
            customer_tax_exempt=customer.tax_exempt,
            customer_tax_ids=[],
            default_tax_rates=[],  # a subscription's rates reach its invoices through the lines' `taxes`
            discounts=[discount.id] if discount is not None else [],
            effective_at=finalized,
            ending_balance=invoice.ending_balance if finalized else None,
            hosted_invoice_url=f"https://invoice.stripe.com/i/{self.account_id}/test_{token}?s=ap"
            if finalized
            else None,
            id=invoice.id,
            invoice_pdf=f"https://pay.stripe.com/invoice/{self.account_id}/test_{token}/pdf?s=ap"
            if finalized
            else None,
            issuer={"type": "self"},
            lines=embedded_list(lines, f"/v1/invoices/{invoice.id}/lines"),
            livemode=False,
            metadata={},
            next_payment_attempt=invoice.next_payment_attempt.at(t) if status == "open" else None,
            number=invoice.number if finalized else None,
            object="invoice",
            payment_settings={
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            period_end=invoice.period_end,
            period_start=invoice.period_start,
            post_payment_credit_notes_amount=0,
            pre_payment_credit_notes_amount=0,
            starting_balance=invoice.starting_balance,
            status=status,
            status_transitions={
                "finalized_at": finalized,
                "marked_uncollectible_at": seen(invoice.marked_uncollectible_at, t),
                "paid_at": seen(invoice.paid_at, t),
                "voided_at": seen(invoice.voided_at, t),
            },
            subtotal=invoice.subtotal,
            subtotal_excluding_tax=invoice.subtotal_excluding_tax,
            total=invoice.total,
            total_discount_amounts=[{"amount": invoice.discount_total, "discount": discount.id}]
            if discount is not None
            else [],
            total_excluding_tax=invoice.total_excluding_tax,
            webhooks_delivered_at=invoice.created,
            automatically_finalizes_at=invoice.finalized_at if status == "draft" else None,
            total_pretax_credit_amounts=[],
            total_taxes=_total_taxes(invoice),
            amount_overpaid=0,
            # A one-off invoice has no parent (neither a subscription nor a quote generated it).
            parent={
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": invoice.subscription.id},
                "type": "subscription_details",
            }
            if invoice.subscription is not None
            else None,
        )

    def _invoice_payment(self, payment: InvoicePayment, t: int) -> JSON:
        status = payment.status_at(t)
        return fill(
            "invoice_payment",
            amount_paid=payment.payment_intent.amount if status == "paid" else None,
            amount_requested=payment.payment_intent.amount,
            created=payment.created,
            currency=payment.payment_intent.currency,
            id=payment.id,
            invoice=payment.invoice.id,
            is_default=True,
            livemode=False,
            object="invoice_payment",
            payment={"payment_intent": payment.payment_intent.id, "type": "payment_intent"},
            status=status,
            status_transitions={
                "canceled_at": seen(payment.canceled_at, t),
                "paid_at": seen(payment.paid_at, t),
            },
        )

    # --- tax rates, coupons and promotion codes ---

    def _tax_rate(self, rate: TaxRate, t: int) -> JSON:
        percentage = float(rate.percentage)
        return fill(
            "tax_rate",
            active=rate.active.at(t),
            country=rate.country,
            created=rate.created,
            description=rate.description,
            display_name=rate.display_name,
            effective_percentage=percentage,
            flat_amount=None,
            id=rate.id,
            inclusive=rate.inclusive,
            jurisdiction=rate.jurisdiction,
            jurisdiction_level=rate.jurisdiction_level,
            livemode=False,
            metadata={},
            object="tax_rate",
            percentage=percentage,
            rate_type="percentage",
            state=rate.state,
            tax_type=rate.tax_type,
        )

    def _coupon(self, coupon: Coupon, t: int) -> JSON:
        return fill(
            "coupon",
            amount_off=coupon.amount_off,
            applies_to=None,
            created=coupon.created,
            currency=coupon.currency,
            currency_options=None,
            duration=coupon.duration,
            duration_in_months=coupon.duration_in_months,
            id=coupon.id,
            livemode=False,
            max_redemptions=coupon.max_redemptions,
            metadata={},
            name=coupon.name,
            object="coupon",
            percent_off=float(coupon.percent_off) if coupon.percent_off is not None else None,
            redeem_by=coupon.redeem_by,
            times_redeemed=coupon.times_redeemed(t),
            valid=coupon.valid(t),
        )

    def _promotion_code(self, code: PromotionCode, t: int) -> JSON:
        return fill(
            "promotion_code",
            active=code.active.at(t),
            code=code.code,
            created=code.created,
            customer=None,
            expires_at=code.expires_at,
            id=code.id,
            livemode=False,
            max_redemptions=code.max_redemptions,
            metadata={},
            object="promotion_code",
            restrictions={
                "first_time_transaction": code.first_time_transaction,
                "minimum_amount": None,
                "minimum_amount_currency": None,
                "currency_options": {},
            },
            times_redeemed=code.times_redeemed(t),
            promotion={"coupon": code.coupon.id, "type": "coupon"},
            customer_account=None,
        )

    def _discount(self, discount: Discount, t: int) -> JSON:
        # Stripe reports no end for `once` (used by one invoice) and `forever` discounts.
        repeating = discount.coupon.duration == "repeating"
        return fill(
            "discount",
            checkout_session=None,
            customer=discount.customer.id,
            end=discount.end if repeating else None,
            id=discount.id,
            invoice=discount.invoice.id if discount.invoice is not None else None,
            invoice_item=None,
            object="discount",
            promotion_code=discount.promotion_code.id if discount.promotion_code is not None else None,
            start=discount.start,
            subscription=discount.subscription.id if discount.subscription is not None else None,
            subscription_item=None,
            source={"coupon": discount.coupon.id, "type": "coupon"},
            customer_account=None,
        )

    # --- payments ---

    def _payment_error(self, charge: Charge, t: int) -> JSON:
        decline = charge.decline
        assert decline is not None
        return {
            "advice_code": decline.advice_code,
            "charge": charge.id,
            "code": decline.failure_code,
            "decline_code": decline.reason,
            "doc_url": f"https://docs.stripe.com/error-codes/{decline.failure_code.replace('_', '-')}",
            "message": decline.message,
            "network_advice_code": _NETWORK_ADVICE.get(decline.advice_code or ""),
            "network_decline_code": decline.network_decline_code,
            "param": None,
            # The card as it is now: Stripe embeds the whole PaymentMethod object.
            "payment_method": self._payment_method(charge.payment_method, t),
            "type": "card_error",
        }

    def _payment_intent(self, intent: PaymentIntent, t: int) -> JSON:
        status = intent.status_at(t)
        latest = intent.latest_charge_at(t)
        failed = latest is not None and not latest.succeeded and status != "succeeded"
        payment_method = (
            latest.payment_method if latest is not None else intent.invoice.customer.payment_method.at(t)
        )
        return fill(
            "payment_intent",
            amount=intent.amount,
            amount_capturable=0,
            amount_details={"tip": {}},
            amount_received=intent.amount if status == "succeeded" else 0,
            canceled_at=seen(intent.canceled_at, t),
            cancellation_reason=intent.cancellation_reason if status == "canceled" else None,
            capture_method="automatic",
            client_secret=f"{intent.id}_secret_{self._token('client-secret', intent.id, length=25)}",
            confirmation_method="automatic",
            created=intent.created,
            currency=intent.currency,
            customer=intent.invoice.customer.id,
            description=charge_description(intent.invoice),
            id=intent.id,
            last_payment_error=self._payment_error(latest, t) if failed and latest is not None else None,
            latest_charge=latest.id if latest is not None else None,
            livemode=False,
            metadata={},
            object="payment_intent",
            payment_method=payment_method.id,
            payment_method_options={
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            payment_method_types=["card"],
            setup_future_usage="off_session",
            status=status,
            managed_payments={"enabled": False},
        )

    def _outcome(self, charge: Charge) -> JSON:
        decline = charge.decline
        if decline is None:
            return {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": charge.risk_score,
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        return {
            "advice_code": decline.advice_code,
            "network_advice_code": _NETWORK_ADVICE.get(decline.advice_code or ""),
            "network_decline_code": decline.network_decline_code,
            "network_status": decline.network_status,
            "reason": decline.outcome_reason,
            "risk_level": decline.risk_level,
            "risk_score": charge.risk_score,
            "seller_message": decline.seller_message,
            "type": decline.outcome_type,
        }

    def _card_details(self, charge: Charge) -> JSON:
        card = charge.payment_method
        authorized = charge.succeeded
        return {
            "card": {
                "amount_authorized": charge.amount if authorized else None,
                "authorization_code": f"{stable_hash('auth', charge.id) % 10**6:06d}" if authorized else None,
                "brand": card.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": "pass",
                    "cvc_check": None,
                },
                "country": card.country,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": card.fingerprint,
                "funding": card.funding,
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": card.last4,
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": card.brand,
                "network_token": {"used": False},
                "network_transaction_id": f"{stable_hash('ntid', charge.id) % 10**15:015d}"
                if authorized
                else None,
                "overcapture": {"maximum_amount_capturable": charge.amount, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        }

    def _charge(self, charge: Charge, t: int) -> JSON:
        customer = charge.customer
        refunds = [refund for refund in charge.refunds if refund.created <= t]
        refunded = sum(refund.amount for refund in refunds)
        decline = charge.decline
        return fill(
            "charge",
            amount=charge.amount,
            amount_captured=charge.amount if charge.succeeded else 0,
            amount_refunded=refunded,
            balance_transaction=charge.balance_transaction.id
            if charge.balance_transaction is not None
            else None,
            billing_details={
                "address": self._address(customer),
                "email": customer.email,
                "name": customer.name,
                "phone": None,
                "tax_id": None,
            },
            calculated_statement_descriptor=self.tenant.statement_descriptor,
            captured=charge.succeeded,
            created=charge.created,
            currency=charge.currency,
            customer=customer.id,
            description=charge_description(charge.invoice),
            disputed=charge.dispute is not None and charge.dispute.created <= t,
            failure_code=decline.failure_code if decline is not None else None,
            failure_message=decline.message if decline is not None else None,
            fraud_details={},
            id=charge.id,
            livemode=False,
            metadata={},
            object="charge",
            outcome=self._outcome(charge),
            paid=charge.succeeded,
            payment_intent=charge.payment_intent.id,
            payment_method=charge.payment_method.id,
            payment_method_details=self._card_details(charge),
            receipt_url=f"https://pay.stripe.com/receipts/invoices/{self._token('receipt', charge.id)}?s=ap"
            if charge.succeeded
            else None,
            refunded=charge.succeeded and refunded == charge.amount,
            refunds=embedded_list(
                [self.render(refund, t) for refund in reversed(refunds)], f"/v1/charges/{charge.id}/refunds"
            ),
            status="succeeded" if charge.succeeded else "failed",
        )

    def _refund(self, refund: Refund, t: int) -> JSON:
        charge = refund.charge
        return fill(
            "refund",
            amount=refund.amount,
            balance_transaction=refund.balance_transaction.id,
            charge=charge.id,
            created=refund.created,
            currency=charge.currency,
            destination_details={
                "card": {
                    "reference": f"{stable_hash('arn', refund.id) % 10**23:023d}",
                    "reference_status": "available",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            id=refund.id,
            metadata={},
            object="refund",
            payment_intent=charge.payment_intent.id,
            reason=refund.reason,
            status="succeeded",
            customer=charge.customer.id,
            payment_method=charge.payment_method.id,
        )

    def _dispute(self, dispute: Dispute, t: int) -> JSON:
        charge = dispute.charge
        submitted = seen(dispute.evidence_submitted_at, t)
        evidence = dict.fromkeys(fixtures()["dispute"]["evidence"])
        evidence["enhanced_evidence"] = {}
        if submitted:
            product = charge.invoice.lines[-1].price.product.name
            evidence.update(
                customer_email_address=charge.customer.email,
                customer_name=charge.customer.name,
                product_description=f"{self.tenant.name} {product} subscription",
                service_date=to_date(charge.invoice.lines[-1].period_start).isoformat(),
                uncategorized_text="The customer used the service throughout the disputed period; usage logs "
                "and the signed order form are attached.",
            )
        return fill(
            "dispute",
            amount=charge.amount,
            balance_transactions=[
                self.render(transaction, t)
                for transaction in dispute.balance_transactions
                if transaction.created <= t
            ],
            charge=charge.id,
            created=dispute.created,
            currency=charge.currency,
            evidence=evidence,
            evidence_details={
                "due_by": dispute.due_by,
                "enhanced_eligibility": {},
                "has_evidence": bool(submitted),
                "past_due": not submitted and t > dispute.due_by,
                "submission_count": 1 if submitted else 0,
            },
            id=dispute.id,
            is_charge_refundable=False,
            livemode=False,
            metadata={},
            object="dispute",
            payment_intent=charge.payment_intent.id,
            payment_method_details={
                "card": {
                    "brand": charge.payment_method.brand,
                    "case_type": "chargeback",
                    "network_reason_code": dispute.network_reason_code,
                },
                "type": "card",
            },
            reason=dispute.reason,
            status=dispute.status_at(t),
            enhanced_eligibility_types=[],
        )

    # --- balance and payouts ---

    def _payout(self, payout: Payout, t: int) -> JSON:
        status = payout.status_at(t)
        failure = payout.failure_balance_transaction if status == "failed" else None
        return fill(
            "payout",
            amount=payout.amount,
            arrival_date=payout.arrival_date,
            automatic=True,
            balance_transaction=payout.balance_transaction.id
            if payout.balance_transaction is not None
            else None,
            created=payout.created,
            currency=payout.currency,
            description="STRIPE PAYOUT",
            destination=payout.destination,
            failure_balance_transaction=failure.id if failure is not None else None,
            failure_code=payout.failure_code if failure is not None else None,
            failure_message=payout.failure_message if failure is not None else None,
            id=payout.id,
            livemode=False,
            metadata={},
            method="standard",
            object="payout",
            reconciliation_status="completed" if status in ("paid", "failed") else "in_progress",
            source_type="card",
            status=status,
            type="bank_account",
            trace_id={"status": "supported", "value": payout.trace_number}
            if status == "paid"
            else {"status": "pending", "value": None},
        )

    def _balance_transaction(self, transaction: BalanceTransaction, t: int) -> JSON:
        fee_details = []
        if transaction.fee_description is not None:
            fee_details.append(
                {
                    "amount": transaction.fee,
                    "application": None,
                    "currency": transaction.currency,
                    "description": transaction.fee_description,
                    "type": "stripe_fee",
                }
            )
        rate = transaction.exchange_rate
        return fill(
            "balance_transaction",
            amount=transaction.amount,
            available_on=transaction.available_on,
            created=transaction.created,
            currency=transaction.currency,
            description=transaction.description,
            exchange_rate=float(rate) if rate is not None else None,
            fee=transaction.fee,
            fee_details=fee_details,
            id=transaction.id,
            net=transaction.net,
            object="balance_transaction",
            reporting_category=transaction.reporting_category,
            source=transaction.source,
            status="available" if transaction.available_on <= t else "pending",
            type=transaction.type,
            balance_type="payments",
        )
