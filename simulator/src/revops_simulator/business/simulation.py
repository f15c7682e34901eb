"""Generate one tenant's history from its founding up to a horizon."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from revops_simulator.actions import Action
from revops_simulator.business.billing import Context, CustomerJourney
from revops_simulator.business.catalog import build_catalog
from revops_simulator.business.clock import day_start
from revops_simulator.business.discounts import Coupons
from revops_simulator.business.entities import History
from revops_simulator.business.ledger import Ledger
from revops_simulator.business.lifecycle import (
    delete_churned_customers,
    draft_and_delete_one_off_invoices,
    renew_expired_cards,
)
from revops_simulator.business.seeding import poisson, stream
from revops_simulator.business.tax import Taxes
from revops_simulator.business.tenants import FOUNDED, Tenant

CUSTOMERS_PER_YEAR = 250
"""New customers in the first year at scale 1.0."""


def arrivals_mean(day: date, scale: float) -> float:
    # Sign-ups ramp up over the first year (a growing business) and dip at weekends.
    age = (day - FOUNDED).days
    growth = 0.6 + 0.8 * min(1.0, age / 365)
    weekday = 1.15 if day.weekday() < 5 else 0.6
    return scale * CUSTOMERS_PER_YEAR / 365 * growth * weekday


def simulate(
    tenant: Tenant,
    seed: int,
    scale: float,
    horizon: int,
    actions: Mapping[str, Sequence[Action]] | None = None,
) -> History:
    """Everything that happens in `tenant`'s account up to `horizon` (and what is already scheduled after).

    `actions` are what the merchant and its customers' mailboxes did, per invoice id (until `horizon`).

    The history is causal: nothing before an instant depends on what comes after it, so a history
    generated to a later horizon starts with exactly this one.
    """
    history = History(tenant.id, horizon)
    catalog = build_catalog(tenant, seed, history)
    ledger = Ledger(tenant, seed, history)
    taxes, coupons = Taxes(tenant, seed, history), Coupons(tenant, seed, history)
    context = Context(tenant, seed, history, catalog, ledger, actions or {}, taxes, coupons)
    day = FOUNDED + timedelta(days=1)
    while day_start(day) <= horizon:
        count = poisson(stream(seed, tenant.id, "arrivals", day.isoformat()), arrivals_mean(day, scale))
        for index in range(count):
            CustomerJourney(context, day, index).run()
        day += timedelta(days=1)
    delete_churned_customers(history, seed, tenant.id)
    renew_expired_cards(history, seed, tenant.id)
    draft_and_delete_one_off_invoices(history, seed, tenant.id)
    ledger.billing_fees()
    ledger.payouts()
    return history
