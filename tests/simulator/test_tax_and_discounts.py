"""Taxes, coupons, promotion codes and discounts in the simulated Stripe accounts, against Stripe's rules."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from revops_simulator import GroundTruth, SimulatorServer, World
from tests.simulator.conftest import call

WORKSPACES = ("acme", "globex")


def _lines(truth: GroundTruth) -> dict[str, list[dict[str, Any]]]:
    lines = defaultdict(list)
    for line in truth.objects["invoice_line_items"]:
        lines[line["invoice"]].append(line)
    return lines


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_tax_rates_in_both_workspaces(big_truths: dict[str, GroundTruth]) -> None:
    acme, globex = big_truths["acme"].objects["tax_rates"], big_truths["globex"].objects["tax_rates"]
    # Acme adds US sales tax by state (Stripe Tax) and reverse-charges its EU customers.
    assert acme and not any(rate["inclusive"] for rate in acme)
    assert {rate["tax_type"] for rate in acme} == {"sales_tax", "vat"}
    assert any(rate["state"] == "NY" and rate["percentage"] == 8.875 for rate in acme)
    # Globex quotes VAT-inclusive prices and archived its first VAT rate for a new one.
    assert globex and all(rate["inclusive"] and rate["country"] == "GB" for rate in globex)
    assert sorted(rate["active"] for rate in globex) == [False, True]
    for workspace, truth in big_truths.items():
        rates = {rate["id"] for rate in truth.objects["tax_rates"]}
        used = {
            tax["tax_rate_details"]["tax_rate"]
            for line in truth.objects["invoice_line_items"]
            for tax in line["taxes"]
        }
        assert used and used <= rates, workspace
        behavior = "inclusive" if workspace == "globex" else "exclusive"
        assert {price["tax_behavior"] for price in truth.objects["prices"]} == {behavior}


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_invoice_arithmetic_with_discounts_and_tax(
    big_truths: dict[str, GroundTruth], workspace: str
) -> None:
    truth = big_truths[workspace]
    lines = _lines(truth)
    paid_by_charges: dict[str, int] = Counter()
    for charge in truth.objects["charges"]:
        if charge["status"] == "succeeded":
            paid_by_charges[charge["payment_intent"]] += charge["amount"]
    intents = {intent["id"]: intent for intent in truth.objects["payment_intents"]}
    taxed = discounted = 0
    for invoice in truth.objects["invoices"]:
        own = lines[invoice["id"]]
        discounts = sum(entry["amount"] for line in own for entry in line["discount_amounts"])
        taxes = [tax for line in own for tax in line["taxes"]]
        exclusive = sum(tax["amount"] for tax in taxes if tax["tax_behavior"] == "exclusive")
        inclusive = sum(tax["amount"] for tax in taxes if tax["tax_behavior"] == "inclusive")
        assert sum(entry["amount"] for entry in invoice["total_discount_amounts"]) == discounts
        assert sum(tax["amount"] for tax in invoice["total_taxes"]) == exclusive + inclusive
        # Discounts come off before tax; exclusive tax is added on top, inclusive tax is inside.
        assert invoice["total"] == invoice["subtotal"] - discounts + exclusive
        assert invoice["total_excluding_tax"] == invoice["total"] - exclusive - inclusive
        assert invoice["amount_due"] == max(0, invoice["total"] + invoice["starting_balance"])
        for line in own:
            for tax in line["taxes"]:
                net = line["amount"] - sum(entry["amount"] for entry in line["discount_amounts"])
                rate = Decimal(str(_rate(truth, tax)["percentage"]))
                if tax["taxability_reason"] != "standard_rated":
                    assert tax["amount"] == 0
                elif tax["tax_behavior"] == "exclusive":
                    assert tax["taxable_amount"] == net
                    assert tax["amount"] == _round(net * rate / 100)
                else:
                    # The tax contained in a VAT-inclusive amount: net of tax plus tax is the amount.
                    assert tax["taxable_amount"] + tax["amount"] == net
                    assert tax["amount"] == net - _round(net * 100 / (100 + rate))
        if workspace == "acme":
            assert inclusive == 0
        else:
            assert exclusive == 0
        if invoice["status"] == "paid" and invoice["amount_due"] > 0:
            intent = intents[
                next(p for p in truth.objects["invoice_payments"] if p["invoice"] == invoice["id"])[
                    "payment"
                ]["payment_intent"]
            ]
            # The customer pays the invoice's total, tax included.
            assert intent["amount"] == invoice["amount_due"] == paid_by_charges[intent["id"]]
        taxed += exclusive + inclusive > 0
        discounted += discounts > 0
    assert taxed > len(truth.objects["invoices"]) // 5
    assert discounted > 0


def _rate(truth: GroundTruth, tax: dict[str, Any]) -> dict[str, Any]:
    rate_id = tax["tax_rate_details"]["tax_rate"]
    return next(rate for rate in truth.objects["tax_rates"] if rate["id"] == rate_id)


def test_acme_taxability_follows_the_customer(big_truths: dict[str, GroundTruth]) -> None:
    truth = big_truths["acme"]
    customers = {customer["id"]: customer for customer in truth.objects["customers"]}
    reasons: Counter[str] = Counter()
    for invoice in truth.objects["invoices"]:
        customer = customers.get(invoice["customer"])
        if customer is None:
            continue  # deleted since: its invoices stay, naming it
        if invoice["parent"] is None:
            continue  # a one-off draft the merchant deletes (lifecycle.py), entered without tax
        assert (
            invoice["automatic_tax"]["enabled"] and invoice["customer_tax_exempt"] == customer["tax_exempt"]
        )
        expected = {"exempt": "customer_exempt", "reverse": "reverse_charge"}.get(customer["tax_exempt"])
        for tax in invoice["total_taxes"]:
            reasons[tax["taxability_reason"]] += 1
            if expected is not None:
                assert tax["taxability_reason"] == expected and tax["amount"] == 0
    assert {"standard_rated", "reverse_charge", "not_subject_to_tax", "customer_exempt"} <= reasons.keys()
    exempt = Counter(customer["tax_exempt"] for customer in customers.values())
    assert 0 < exempt["exempt"] < exempt["none"] // 5


def test_coupons_and_promotion_codes(big_truths: dict[str, GroundTruth]) -> None:
    for workspace, truth in big_truths.items():
        coupons = {coupon["id"]: coupon for coupon in truth.objects["coupons"]}
        assert {coupon["duration"] for coupon in coupons.values()} == {"once", "repeating", "forever"}
        amount_off = [coupon for coupon in coupons.values() if coupon["amount_off"] is not None]
        assert amount_off and all(
            coupon["currency"] and coupon["percent_off"] is None for coupon in amount_off
        )
        expired = [coupon for coupon in coupons.values() if coupon["redeem_by"] is not None]
        assert expired and all(not coupon["valid"] for coupon in expired)
        assert any(coupon["max_redemptions"] for coupon in coupons.values())
        assert all(
            coupon["times_redeemed"] <= (coupon["max_redemptions"] or coupon["times_redeemed"])
            for coupon in coupons.values()
        )
        codes = truth.objects["promotion_codes"]
        assert {code["active"] for code in codes} == {True, False}
        assert any(code["expires_at"] for code in codes)
        # The deleted coupon's code still names it; the coupon list leaves it out.
        assert {code["promotion"]["coupon"] for code in codes} - coupons.keys() == {"SPRING10"}
        redeemed = sum(code["times_redeemed"] for code in codes)
        assert redeemed and redeemed <= sum(coupon["times_redeemed"] for coupon in coupons.values()), (
            workspace
        )


def test_about_one_subscription_in_seven_has_a_coupon(big_world: World) -> None:
    for workspace in WORKSPACES:
        account = big_world.stripe_account(workspace)
        discounts = [account.render(d) for d in account.listings["discounts"].items]
        subscriptions = account.listings["subscriptions"].items
        on_subscriptions = {d["subscription"] for d in discounts if d["subscription"]}
        assert 0.10 <= len(on_subscriptions) / len(subscriptions) <= 0.20, workspace
        assert any(d["invoice"] for d in discounts), "some single invoices are discounted"
        assert any(d["promotion_code"] for d in discounts) and any(not d["promotion_code"] for d in discounts)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_repeating_coupon_lowers_exactly_its_months(big_world: World, workspace: str) -> None:
    account = big_world.stripe_account(workspace)
    truth = big_world.ground_truth(workspace)
    subscriptions = {s["id"]: s for s in truth.objects["subscriptions"]}
    invoices = defaultdict(list)
    for invoice in truth.objects["invoices"]:
        if invoice["parent"] is not None:  # not a one-off draft (lifecycle.py)
            invoices[invoice["parent"]["subscription_details"]["subscription"]].append(invoice)
    checked = 0
    for item in account.listings["discounts"].items:
        discount, coupon = account.render(item), item.coupon
        subscription = subscriptions.get(discount["subscription"] or "")
        if subscription is None or coupon.duration != "repeating":
            continue
        monthly = subscription["items"]["data"][0]["price"]["recurring"]["interval"] == "month"
        ended = subscription["ended_at"]
        if not monthly or discount["end"] > int(truth.now.timestamp()) or (ended and ended < discount["end"]):
            continue
        lowered = [i for i in invoices[subscription["id"]] if discount["id"] in i["discounts"]]
        assert len(lowered) == coupon.duration_in_months, (subscription["id"], coupon.id)
        assert all(discount["start"] <= i["created"] < discount["end"] for i in lowered)
        checked += 1
    assert checked > 0


def test_tax_and_coupon_endpoints(server: SimulatorServer) -> None:
    rates = call(server, "/v1/tax_rates", {"limit": 100}).json()
    assert rates["object"] == "list" and rates["data"]
    rate = rates["data"][0]
    assert call(server, f"/v1/tax_rates/{rate['id']}").json() == rate
    inclusive = call(server, "/v1/tax_rates", {"inclusive": "true"}).json()["data"]
    assert inclusive == [] and call(server, "/v1/tax_rates", {"active": "true"}).json()["data"]
    coupons = call(server, "/v1/coupons", {"limit": 100}).json()["data"]
    assert coupons and "SPRING10" not in {coupon["id"] for coupon in coupons}
    assert call(server, f"/v1/coupons/{coupons[0]['id']}").json() == coupons[0]
    # A deleted coupon answers Stripe's deleted stub.
    assert call(server, "/v1/coupons/SPRING10").json() == {
        "id": "SPRING10",
        "object": "coupon",
        "deleted": True,
    }
    assert call(server, "/v1/coupons/NOPE").status == 404
    codes = call(server, "/v1/promotion_codes", {"code": "LAUNCH20"}).json()["data"]
    assert [code["promotion"]["coupon"] for code in codes] == ["LAUNCH20"]
    assert (
        call(server, "/v1/promotion_codes", {"coupon": "LAUNCH20", "active": "true"}).json()["data"] == codes
    )
    assert call(server, "/v1/coupons", {"bogus": "1"}).status == 400
    invoice = next(i for i in server.world.ground_truth("acme").objects["invoices"] if i["discounts"])
    expanded = call(server, f"/v1/invoices/{invoice['id']}", {"expand[]": "discounts"}).json()["discounts"]
    assert [d["id"] for d in expanded] == invoice["discounts"] and expanded[0]["object"] == "discount"
    assert expanded[0]["source"]["coupon"] in {c["id"] for c in coupons} | {"SPRING10"}
