"""Ground truth of payment recovery: every invoice whose payment failed, and how it ended.

The definitions are those of `marts.fct_failed_payment_episodes` (docs/recovery.md), computed from the
simulated history instead of from the warehouse, so tests can compare the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from revops_simulator.actions import Action
from revops_simulator.business.clock import DAY
from revops_simulator.business.entities import History
from revops_simulator.business.entities import seen as seen_at


@dataclass(frozen=True)
class EpisodeTruth:
    invoice_id: str
    customer_id: str
    subscription_id: str
    currency: str
    amount_at_risk: int
    """Minor units: what the failed payment asked for."""
    first_failed_at: int
    decline_code: str
    """Stripe's `outcome.reason` of the first failure: the issuer's decline code, or Radar's risk level
    (`highest_risk_level`) for a blocked payment."""
    attempt_count: int
    outcome: str
    """`recovered`, `lost` (written off or voided) or `open`."""
    recovered_at: int | None
    amount_recovered: int
    recovery_path: str | None
    """`automatic_retry`, `dunning` (same card, after a dunning action), `card_updated` or `out_of_band`."""
    days_to_recovery: int | None
    """Whole days from the first failure to the payment."""


def recovery_episodes(history: History, actions: Sequence[Action], now: int) -> list[EpisodeTruth]:
    """The episodes of `history` as seen at `now`, given the dunning `actions` taken (up to `now`)."""
    acted_at: dict[str, list[int]] = {}
    for action in actions:
        if action.kind in ("invoice_pay", "email_delivered") and action.at <= now:
            acted_at.setdefault(action.invoice_id, []).append(action.at)
    episodes = []
    for invoice in history.invoices:
        charges = [charge for charge in invoice.charges if charge.created <= now]
        failures = [charge for charge in charges if not charge.succeeded]
        if not failures:
            continue
        first = failures[0]
        assert first.decline is not None
        paid_at = seen_at(invoice.paid_at, now)
        lost = seen_at(invoice.marked_uncollectible_at, now) or seen_at(invoice.voided_at, now)
        path = None
        if paid_at is not None:
            success = next((charge for charge in charges if charge.succeeded), None)
            if success is None:
                path = "out_of_band"
            elif success.payment_method.id != first.payment_method.id:
                path = "card_updated"
            elif any(moment <= success.created for moment in acted_at.get(invoice.id, ())):
                path = "dunning"
            else:
                path = "automatic_retry"
        episodes.append(
            EpisodeTruth(
                invoice_id=invoice.id,
                customer_id=invoice.customer.id,
                subscription_id=invoice.subscription.id,
                currency=invoice.currency.upper(),
                amount_at_risk=invoice.amount_due,
                first_failed_at=first.created,
                decline_code=first.decline.outcome_reason,
                attempt_count=len(charges),
                outcome="recovered" if paid_at is not None else "lost" if lost is not None else "open",
                recovered_at=paid_at,
                amount_recovered=invoice.amount_due if paid_at is not None else 0,
                recovery_path=path,
                days_to_recovery=(paid_at - first.created) // DAY if paid_at is not None else None,
            )
        )
    return episodes
