"""The simulated businesses at full scale: volumes, money and payment behaviour a real account shows."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from revops_simulator import GroundTruth, World
from revops_simulator.business.declines import HARD, SOFT

HARD_REASONS = {decline.outcome_reason for decline in HARD}
SOFT_REASONS = {decline.outcome_reason for decline in SOFT}


def _attempts(truth: GroundTruth) -> dict[str, list[dict[str, Any]]]:
    """Charges per payment intent, oldest first."""
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for charge in sorted(truth.objects["charges"], key=lambda c: (c["created"], c["id"])):
        attempts[charge["payment_intent"]].append(charge)
    return attempts


def test_full_scale_volumes(big_truths: dict[str, GroundTruth]) -> None:
    for truth in big_truths.values():
        assert 200 <= len(truth.objects["customers"]) <= 300
        # Three plans, metered API calls and the discontinued Priority support add-on.
        assert len(truth.objects["products"]) == 5
        assert len(truth.objects["invoices"]) > 3 * len(truth.objects["customers"])
        created = min(customer["created"] for customer in truth.objects["customers"])
        assert (truth.now.timestamp() - created) / 86_400 > 330


@pytest.mark.parametrize("workspace", ["acme", "globex"])
def test_both_currencies_settle_into_one(
    big_truths: dict[str, GroundTruth], big_world: World, workspace: str
) -> None:
    truth = big_truths[workspace]
    settlement = next(w for w in big_world.workspaces if w.id == workspace)
    charges = {charge["id"]: charge for charge in truth.objects["charges"]}
    assert set(Counter(c["currency"] for c in charges.values())) == set(settlement.currencies)
    for transaction in truth.objects["balance_transactions"]:
        assert transaction["currency"] == settlement.settlement_currency
        assert transaction["net"] == transaction["amount"] - transaction["fee"]
        assert transaction["fee"] == sum(detail["amount"] for detail in transaction["fee_details"])
        if transaction["type"] == "charge":
            charge = charges[transaction["source"]]
            assert charge["balance_transaction"] == transaction["id"]
            foreign = charge["currency"] != settlement.settlement_currency
            assert (transaction["exchange_rate"] is not None) == foreign
            if foreign:
                assert isinstance(transaction["exchange_rate"], float)
                assert abs(transaction["amount"] - charge["amount"] * transaction["exchange_rate"]) <= 1
            assert 0 < transaction["fee"] < transaction["amount"] // 10
            assert transaction["available_on"] - transaction["created"] <= 2 * 86_400


@pytest.mark.parametrize("workspace", ["acme", "globex"])
def test_payment_failures_and_recoveries(big_truths: dict[str, GroundTruth], workspace: str) -> None:
    attempts = _attempts(big_truths[workspace])
    first_failures = [charges for charges in attempts.values() if charges[0]["status"] == "failed"]
    assert 0.07 <= len(first_failures) / len(attempts) <= 0.13
    reasons = Counter(charges[0]["outcome"]["reason"] for charges in first_failures)
    assert reasons.keys() & SOFT_REASONS and reasons.keys() & HARD_REASONS

    def recovered(hard: bool) -> float:
        group = [c for c in first_failures if (c[0]["outcome"]["reason"] in HARD_REASONS) == hard]
        return sum(c[-1]["status"] == "succeeded" for c in group) / len(group)

    assert recovered(hard=False) > recovered(hard=True)
    assert recovered(hard=False) > 0.3
    for charges in attempts.values():
        assert all(c["status"] == "failed" for c in charges[:-1])
        for charge in charges:
            failed = charge["status"] == "failed"
            assert (charge["failure_code"] is not None) == failed and charge["paid"] == (not failed)
            assert charge["outcome"]["type"] in (
                ("issuer_declined", "blocked") if failed else ("authorized",)
            )
            assert charge["outcome"]["seller_message"]


@pytest.mark.parametrize("workspace", ["acme", "globex"])
def test_dunning_outcomes(big_truths: dict[str, GroundTruth], workspace: str) -> None:
    truth = big_truths[workspace]
    subscriptions = {sub["id"]: sub for sub in truth.objects["subscriptions"]}
    invoices = truth.objects["invoices"]
    uncollectible = [i for i in invoices if i["status"] == "uncollectible"]
    assert uncollectible
    for invoice in uncollectible:
        subscription = subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
        assert subscription["status"] == "canceled"
        assert subscription["cancellation_details"]["reason"] == "payment_failed"
        assert (
            invoice["next_payment_attempt"] is None
            and invoice["status_transitions"]["marked_uncollectible_at"]
        )
    retried = [i for i in invoices if i["status"] == "paid" and i["attempt_count"] > 1]
    assert retried
    statuses = Counter(sub["status"] for sub in subscriptions.values())
    assert statuses["active"] > statuses["canceled"] > 0 and statuses["incomplete_expired"]
    reasons = Counter(sub["cancellation_details"]["reason"] for sub in subscriptions.values())
    assert reasons["cancellation_requested"] and reasons["payment_failed"]
    trials = [sub for sub in subscriptions.values() if sub["trial_start"] is not None]
    assert 0.2 < len(trials) / len(subscriptions) < 0.4
    assert any(sub["cancel_at_period_end"] for sub in subscriptions.values())


@pytest.mark.parametrize("workspace", ["acme", "globex"])
def test_invoices_add_up(big_truths: dict[str, GroundTruth], workspace: str) -> None:
    truth = big_truths[workspace]
    lines = defaultdict(list)
    for line in truth.objects["invoice_line_items"]:
        lines[line["invoice"]].append(line)
    charges = defaultdict(list)
    for charge in truth.objects["charges"]:
        charges[charge["customer"]].append(charge)
    reasons = Counter(invoice["billing_reason"] for invoice in truth.objects["invoices"])
    assert reasons["subscription_create"] and reasons["subscription_cycle"]
    numbers = [invoice["number"] for invoice in truth.objects["invoices"] if invoice["number"]]
    assert len(numbers) == len(set(numbers))
    for invoice in truth.objects["invoices"]:
        own = lines[invoice["id"]]
        # Stripe's arithmetic: line amounts less their discounts, plus tax charged on top.
        discounts = sum(entry["amount"] for line in own for entry in line["discount_amounts"])
        exclusive = sum(
            t["amount"] for line in own for t in line["taxes"] if t["tax_behavior"] == "exclusive"
        )
        assert invoice["subtotal"] == sum(line["amount"] for line in own)
        assert invoice["total"] == invoice["subtotal"] - discounts + exclusive
        assert invoice["amount_due"] == max(0, invoice["total"] + invoice["starting_balance"])
        assert len(invoice["lines"]["data"]) == min(10, len(lines[invoice["id"]]))
        assert invoice["lines"]["has_more"] == (len(lines[invoice["id"]]) > 10)
        if invoice["status"] == "paid" and invoice["amount_due"] > 0:
            assert invoice["amount_paid"] == invoice["amount_due"]
    prorations = [
        line
        for line in truth.objects["invoice_line_items"]
        # A one-off draft's line (an invoice item) has no subscription item details.
        if (line["parent"]["subscription_item_details"] or {}).get("proration")
    ]
    assert any(line["amount"] < 0 for line in prorations) and any(line["amount"] > 0 for line in prorations)
    assert any(invoice["lines"]["has_more"] for invoice in truth.objects["invoices"])


@pytest.mark.parametrize("workspace", ["acme", "globex"])
def test_refunds_disputes_and_payouts(big_truths: dict[str, GroundTruth], workspace: str) -> None:
    truth = big_truths[workspace]
    objects = truth.objects
    paid = [charge for charge in objects["charges"] if charge["status"] == "succeeded"]
    assert 0.01 < len(objects["refunds"]) / len(paid) < 0.06
    sizes = Counter(
        r["amount"] == next(c["amount"] for c in paid if c["id"] == r["charge"]) for r in objects["refunds"]
    )
    assert sizes[True] and sizes[False]
    assert objects["disputes"]
    categories = Counter(t["reporting_category"] for t in objects["balance_transactions"])
    assert categories["dispute"] == len(objects["disputes"])
    for dispute in objects["disputes"]:
        withdrawal = dispute["balance_transactions"][0]
        assert withdrawal["amount"] < 0 and withdrawal["fee"] > 0
    assert categories["fee"] >= 10 and categories["payout"] > 200
    payouts = Counter(payout["status"] for payout in objects["payouts"])
    assert payouts["paid"] > 200
    for payout in objects["payouts"]:
        assert payout["arrival_date"] > payout["created"] and payout["amount"] > 0
        if payout["status"] == "failed":
            assert payout["failure_code"] and payout["failure_balance_transaction"]
    refunded = {refund["charge"] for refund in objects["refunds"]}
    assert all(charge["amount_refunded"] > 0 for charge in paid if charge["id"] in refunded)


def test_event_stream_covers_the_lifecycle(big_truths: dict[str, GroundTruth]) -> None:
    types = Counter(event["type"] for truth in big_truths.values() for event in truth.objects["events"])
    for expected in (
        "customer.created",
        "customer.updated",
        "customer.subscription.created",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice_payment.paid",
        "payment_intent.created",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.succeeded",
        "charge.failed",
        "payout.created",
        "payout.paid",
    ):
        assert types[expected], expected
