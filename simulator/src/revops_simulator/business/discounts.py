"""Coupons, promotion codes and the discounts they give subscriptions and single invoices.

Each account runs the same campaigns: a launch offer (20 % off for 3 months, redeemable until
March 2026), a Black Friday week (30 % off for 6 months), a partner discount (15 % off forever, at
most 12 redemptions; one of its two codes retired in June 2026), a welcome credit per currency
(amount off the first invoice), an annual-plan 10 % forever, and a spring offer whose coupon the
merchant deleted in July 2026 (its discounts stay in force, as in Stripe). Beside those, the merchant
gives a goodwill 25 % or a fixed credit on single renewal invoices.

About one subscription in seven redeems a coupon when it first bills (at creation, or when its trial
converts); about one renewal invoice in forty gets a one-off discount. Discounts come off the
discountable lines (never prorations) before tax. All draws come from streams of their own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from revops_simulator.business.clock import HOUR, add_months, day_start
from revops_simulator.business.entities import (
    Coupon,
    Discount,
    History,
    Invoice,
    PromotionCode,
    Subscription,
    Timeline,
)
from revops_simulator.business.seeding import make_id, stream, weighted
from revops_simulator.business.tenants import FOUNDED, Tenant

COUPON_SHARE = 0.15
"""Subscriptions that redeem a coupon when they first bill."""
INVOICE_DISCOUNT_SHARE = 0.025
"""Renewal invoices without a running discount that the merchant discounts once."""
WELCOME_OFF = MappingProxyType({"usd": 5_000, "eur": 4_500, "gbp": 4_000})
CREDIT_OFF = MappingProxyType({"usd": 1_000, "eur": 900, "gbp": 800})


def _at(day: date, hour: int = 0) -> int:
    return day_start(day) + hour * HOUR


@dataclass
class Coupons:
    tenant: Tenant
    seed: int
    history: History

    def __post_init__(self) -> None:
        founded = _at(FOUNDED, 1)
        self.codes: dict[PromotionCode, float] = {}
        """Customer-facing codes, with how often a redeeming customer uses each."""
        self.direct: dict[Coupon, float] = {}
        """Coupons the sales team applies without a code."""
        launch = self._coupon(
            "LAUNCH20",
            founded,
            "Launch offer",
            "repeating",
            months=3,
            percent="20",
            redeem_by=_at(date(2026, 3, 1)),
        )
        self._code("LAUNCH20", launch, founded, 4.0, expires_at=launch.redeem_by)
        black_friday = self._coupon(
            "BF2025",
            _at(date(2025, 11, 24)),
            "Black Friday 30% off",
            "repeating",
            months=6,
            percent="30",
            redeem_by=_at(date(2025, 12, 2)),
        )
        self._code("BLACKFRIDAY", black_friday, black_friday.created, 40.0, expires_at=black_friday.redeem_by)
        partner = self._coupon(
            None, founded + 1, "Partner 15% off", "forever", percent="15", max_redemptions=12
        )
        self._code("PARTNER15", partner, founded + 1, 1.5)
        retired = self._code("PARTNER2025", partner, founded + 1, 1.5)
        retired.active.set(_at(date(2026, 6, 1), 10), False)
        self.history.record(_at(date(2026, 6, 1), 10), retired, "updated", requested=True)
        annual = self._coupon(None, founded + 2, "Annual plan 10% off", "forever", percent="10")
        self.direct[annual] = 1.0
        for index, currency in enumerate(sorted(self.tenant.currency_mix)):
            welcome = self._coupon(
                None,
                founded + 3 + index,
                "Welcome credit",
                "once",
                amount_off=WELCOME_OFF[currency],
                currency=currency,
            )
            self._code(f"WELCOME{currency.upper()}", welcome, founded + 3 + index, 3.0, first_time=True)
        spring = self._coupon(
            "SPRING10", _at(date(2026, 3, 20), 9), "Spring 10% off", "repeating", months=2, percent="10"
        )
        spring_code = self._code("SPRING10", spring, spring.created, 5.0)
        spring.deleted_at = _at(date(2026, 7, 1), 9)
        # Deleting a coupon deactivates its codes; discounts already given keep running.
        spring_code.active.set(spring.deleted_at, False)
        self.history.record(spring.deleted_at, spring, "deleted", requested=True)
        self.history.record(spring.deleted_at, spring_code, "updated")
        self.goodwill = self._coupon("GOODWILL25", founded + 10, "Goodwill 25% off", "once", percent="25")
        self.credits = {
            currency: self._coupon(
                None,
                founded + 11 + index,
                "Service credit",
                "once",
                amount_off=CREDIT_OFF[currency],
                currency=currency,
            )
            for index, currency in enumerate(sorted(self.tenant.currency_mix))
        }

    def _coupon(
        self,
        code: str | None,
        created: int,
        name: str,
        duration: str,
        months: int | None = None,
        percent: str | None = None,
        amount_off: int | None = None,
        currency: str | None = None,
        redeem_by: int | None = None,
        max_redemptions: int | None = None,
    ) -> Coupon:
        # Coupons created without an id get Stripe's eight random characters.
        coupon_id = code or make_id("", self.seed, self.tenant.id, "coupon", name, currency, length=8).upper()
        coupon = Coupon(
            id=coupon_id,
            created=created,
            name=name,
            duration=duration,  # type: ignore[arg-type]
            duration_in_months=months,
            percent_off=Decimal(percent) if percent is not None else None,
            amount_off=amount_off,
            currency=currency,
            redeem_by=redeem_by,
            max_redemptions=max_redemptions,
        )
        self.history.coupons.append(coupon)
        self.history.record(created, coupon, "created", requested=True)
        return coupon

    def _code(
        self,
        code: str,
        coupon: Coupon,
        created: int,
        weight: float,
        expires_at: int | None = None,
        first_time: bool = False,
    ) -> PromotionCode:
        promotion = PromotionCode(
            id=make_id("promo_", self.seed, self.tenant.id, "promotion-code", code),
            created=created,
            code=code,
            coupon=coupon,
            expires_at=expires_at,
            active=Timeline(True),
            first_time_transaction=first_time,
        )
        self.history.promotion_codes.append(promotion)
        self.history.record(created, promotion, "created", requested=True)
        self.codes[promotion] = weight
        return promotion

    # --- redemption ---

    def redeem(self, subscription: Subscription, at: int) -> None:
        """Whether the subscription, first billing at `at`, redeems a coupon, and which."""
        rng = stream(self.seed, self.tenant.id, "coupon", subscription.id)
        if rng.random() >= COUPON_SHARE:
            return
        currency = subscription.currency
        choices: dict[tuple[Coupon, PromotionCode | None], float] = {
            (code.coupon, code): weight
            for code, weight in self.codes.items()
            if code.usable(at) and code.coupon.currency in (None, currency)
        }
        choices.update(
            {(coupon, None): weight for coupon, weight in self.direct.items() if coupon.redeemable(at)}
        )
        if not choices:
            return
        coupon, code = weighted(rng, choices)
        subscription.discount = self._discount(rng, coupon, subscription, at, code)

    def _discount(
        self,
        rng: random.Random,
        coupon: Coupon,
        subscription: Subscription | None,
        at: int,
        code: PromotionCode | None = None,
        invoice: Invoice | None = None,
    ) -> Discount:
        if coupon.duration == "repeating":
            assert coupon.duration_in_months is not None
            end: int | None = add_months(at, coupon.duration_in_months)
        else:
            # A `once` discount is used up by the invoice it first applies to.
            end = at + 1 if coupon.duration == "once" else None
        coupon.redemptions.append(at)
        if code is not None:
            code.redemptions.append(at)
        owner = subscription.id if subscription is not None else invoice.id if invoice is not None else ""
        customer = subscription.customer if subscription is not None else invoice.customer  # type: ignore[union-attr]
        return Discount(
            id=make_id("di_", self.seed, self.tenant.id, "discount", owner, coupon.id, at),
            coupon=coupon,
            customer=customer,
            start=at,
            end=end,
            promotion_code=code,
            subscription=subscription,
            invoice=invoice,
        )

    def settle(self, subscription: Subscription) -> None:
        """Once the journey is known: Stripe removes a discount when it ends, updating the subscription
        (unless the subscription ended first; a canceled subscription keeps what it had)."""
        discount = subscription.discount
        if discount is None or discount.end is None:
            return
        if subscription.ended_at is None or discount.end < subscription.ended_at:
            self.history.record(discount.end, subscription, "updated")

    def invoice_discount(self, invoice: Invoice) -> Discount | None:
        """The discount that applies to `invoice`: its subscription's while it runs, or a one-off."""
        subscription = invoice.subscription
        running = subscription.discount
        if running is not None and running.applies(invoice.created):
            return running
        if invoice.billing_reason != "subscription_cycle" or invoice.subtotal <= 0:
            return None
        rng = stream(self.seed, self.tenant.id, "invoice-discount", invoice.id)
        if rng.random() >= INVOICE_DISCOUNT_SHARE:
            return None
        coupon = self.goodwill if rng.random() < 0.6 else self.credits[invoice.currency]
        return self._discount(rng, coupon, None, invoice.created, invoice=invoice)

    def apply(self, invoice: Invoice) -> None:
        """Take `invoice`'s discount off its discountable lines (prorations are not discountable)."""
        discount = self.invoice_discount(invoice)
        if discount is None:
            return
        lines = [line for line in invoice.lines if not line.proration and line.amount > 0]
        base = sum(line.amount for line in lines)
        if base <= 0:
            return
        invoice.discount = discount
        coupon = discount.coupon
        if coupon.percent_off is not None:
            for line in lines:
                line.discount_amount = int(
                    (Decimal(line.amount) * coupon.percent_off / 100).quantize(
                        Decimal(1), rounding=ROUND_HALF_UP
                    )
                )
            return
        assert coupon.amount_off is not None
        # A fixed amount is spread over the lines in proportion, the rounding remainder on the last.
        off, left = min(coupon.amount_off, base), min(coupon.amount_off, base)
        for line in lines[:-1]:
            line.discount_amount = off * line.amount // base
            left -= line.discount_amount
        lines[-1].discount_amount = left
