"""A tenant's products and prices, including the price increase it makes part-way through the year.

Archiving, as Stripe does it (`active: false`; lists still return archived objects unless asked for
`active=true`, retrieve still works, and `product.updated` / `price.updated` carry
`previous_attributes: {"active": true}`):
- the price increase retires the plan's old monthly prices (subscribers on them keep them);
- a paid add-on the merchant piloted, Priority support, is discontinued: its prices are archived,
  then the product, on a day drawn from its own stream (no subscription ever used it, so no draw of
  the journeys depends on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from revops_simulator.business.clock import HOUR, day_start
from revops_simulator.business.entities import History, Price, Product, Timeline
from revops_simulator.business.seeding import make_id, stream
from revops_simulator.business.tenants import FOUNDED, Interval, PlanSpec, Tenant
from revops_simulator.business.usage import METERED_METER, METERED_TIERS


@dataclass
class Catalog:
    history: History
    _offers: dict[tuple[str, Interval, str], list[Price]] = field(default_factory=dict)
    """The successive prices of each (plan, interval, currency) offer, oldest first."""
    metered: dict[str, Price] = field(default_factory=dict)
    """Currency → the metered price of API calls that monthly subscriptions carry beside their plan."""

    def price(self, plan: PlanSpec, interval: Interval, currency: str, t: int) -> Price:
        """The price a new subscriber is put on at `t`."""
        offer = self._offers[plan.key, interval, currency]
        return next(price for price in reversed(offer) if price.created <= t)

    def add_price(self, price: Price) -> None:
        self.history.prices.append(price)
        self._offers.setdefault((price.plan.key, price.interval, price.currency), []).append(price)
        self.history.record(price.created, price, "created", requested=True)


def build_catalog(tenant: Tenant, seed: int, history: History) -> Catalog:
    catalog = Catalog(history)
    launch = day_start(FOUNDED) + 9 * HOUR
    primary_currency = next(iter(tenant.currency_mix))
    for plan_index, plan in enumerate(tenant.plans):
        created = launch + 60 * plan_index
        product = _product(history, seed, tenant, plan, created, unit_label="seat" if plan.per_seat else None)
        for price_index, (interval, currency) in enumerate(
            (interval, currency) for interval in ("month", "year") for currency in tenant.currency_mix
        ):
            price = _price(seed, tenant, product, plan, interval, currency, created + 1 + price_index)
            catalog.add_price(price)
            if interval == "month" and currency == primary_currency:
                product.default_price.set(created, price.id)
        if plan.repriced_monthly is not None:
            _reprice(catalog, seed, tenant, product, plan, primary_currency)
    _metered_prices(catalog, seed, tenant, launch + 60 * len(tenant.plans))
    _discontinued_add_on(catalog, seed, tenant, launch + 60 * (len(tenant.plans) + 1))
    return catalog


METERED_PLAN_KEY = "api_calls"
DISCONTINUED_PLAN_KEY = "priority_support"
DISCONTINUED_ADD_ON_FEES = MappingProxyType({"usd": 4_900, "eur": 4_500, "gbp": 3_900})
"""Priority support's monthly price, by currency (minor units)."""
DISCONTINUED_AFTER_DAYS = (240, 330)
"""Days after founding when the merchant discontinues the add-on."""


def _discontinued_add_on(catalog: Catalog, seed: int, tenant: Tenant, created: int) -> None:
    """Priority support: launched with the catalog, never taken up, archived (prices, then product)."""
    plan = PlanSpec(
        DISCONTINUED_PLAN_KEY,
        "Priority support",
        "Add-on: a four-hour first response on business days.",
        per_seat=False,
        monthly=MappingProxyType(
            {currency: DISCONTINUED_ADD_ON_FEES[currency] for currency in tenant.currency_mix}
        ),
        annual=MappingProxyType({}),
        popularity=0.0,
    )
    # Stripe refuses to archive a product's default price; this one was created without one.
    product = _product(catalog.history, seed, tenant, plan, created, unit_label=None)
    prices = []
    for index, currency in enumerate(tenant.currency_mix):
        price = _price(seed, tenant, product, plan, "month", currency, created + 1 + index)
        catalog.history.prices.append(price)
        catalog.history.record(price.created, price, "created", requested=True)
        prices.append(price)
    rng = stream(seed, tenant.id, "product-discontinuation")
    at = (
        day_start(FOUNDED + timedelta(days=rng.randint(*DISCONTINUED_AFTER_DAYS))) + rng.randint(9, 17) * HOUR
    )
    for index, price in enumerate(prices):
        price.active.set(at + index, False)
        catalog.history.record(at + index, price, "updated", requested=True)
    archived = at + len(prices)
    product.active.set(archived, False)
    product.updated.set(archived, archived)
    catalog.history.record(archived, product, "updated", requested=True)


def _metered_prices(catalog: Catalog, seed: int, tenant: Tenant, created: int) -> None:
    """API calls, billed monthly in arrears with graduated tiers (what `usage_invoice_diff` checks)."""
    plan = PlanSpec(
        METERED_PLAN_KEY,
        "API calls",
        "API requests beyond the plan's allowance, billed per call.",
        per_seat=False,
        monthly=MappingProxyType(dict.fromkeys(tenant.currency_mix, 0)),
        annual=MappingProxyType({}),
        popularity=0.0,
    )
    product = _product(catalog.history, seed, tenant, plan, created, unit_label="call")
    for index, currency in enumerate(tenant.currency_mix):
        price = Price(
            id=make_id("price_", seed, tenant.id, "price", plan.key, "month", currency, "metered"),
            created=created + 1 + index,
            product=product,
            plan=plan,
            currency=currency,
            interval="month",
            unit_amount=0,
            active=Timeline(True),
            tiers=METERED_TIERS[currency],
            meter=METERED_METER,
        )
        catalog.history.prices.append(price)
        catalog.history.record(price.created, price, "created", requested=True)
        catalog.metered[currency] = price


def _product(
    history: History, seed: int, tenant: Tenant, plan: PlanSpec, created: int, unit_label: str | None
) -> Product:
    """The plan's product, active, with no default price yet, recorded as created."""
    product = Product(
        id=make_id("prod_", seed, tenant.id, "product", plan.key, length=14),
        created=created,
        name=plan.name,
        description=plan.description,
        unit_label=unit_label,
        active=Timeline(True),
        default_price=Timeline(None),
        updated=Timeline(created),
    )
    history.products.append(product)
    history.record(created, product, "created", requested=True)
    return product


def _price(
    seed: int,
    tenant: Tenant,
    product: Product,
    plan: PlanSpec,
    interval: Interval,
    currency: str,
    created: int,
    unit_amount: int | None = None,
) -> Price:
    amount = plan.unit_amount(interval, currency) if unit_amount is None else unit_amount
    return Price(
        id=make_id("price_", seed, tenant.id, "price", plan.key, interval, currency, amount),
        created=created,
        product=product,
        plan=plan,
        currency=currency,
        interval=interval,
        unit_amount=amount,
        active=Timeline(True),
    )


def _reprice(
    catalog: Catalog, seed: int, tenant: Tenant, product: Product, plan: PlanSpec, primary_currency: str
) -> None:
    """Replace the plan's monthly prices; subscribers on the old ones keep them (grandfathered)."""
    assert plan.repriced_monthly is not None
    at = day_start(FOUNDED + timedelta(days=tenant.repricing_after_days)) + 10 * HOUR
    for index, (currency, amount) in enumerate(plan.repriced_monthly.items()):
        old = catalog.price(plan, "month", currency, at)
        new = _price(seed, tenant, product, plan, "month", currency, at + 2 * index, amount)
        catalog.add_price(new)
        old.active.set(new.created + 1, False)
        catalog.history.record(new.created + 1, old, "updated", requested=True)
        if currency == primary_currency:
            product.default_price.set(new.created + 1, new.id)
            product.updated.set(new.created + 1, new.created + 1)
            catalog.history.record(new.created + 1, product, "updated", requested=True)
