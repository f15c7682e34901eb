"""The tenant's processor balance: every movement of money, in the settlement currency.

Charges, refunds and dispute adjustments are booked as they happen; the monthly Billing fee and the
automatic daily payouts are derived afterwards from what was booked, in time order.
"""

from __future__ import annotations

import heapq
from datetime import date, timedelta
from types import MappingProxyType

from revops_simulator.business import fx
from revops_simulator.business.clock import (
    HOUR,
    add_business_days,
    day_start,
    midnight_after,
    next_month_start,
    to_date,
)
from revops_simulator.business.entities import BalanceTransaction, Charge, History, Payout
from revops_simulator.business.seeding import make_id, stream, weighted
from revops_simulator.business.tenants import FOUNDED, Tenant

AVAILABILITY_DAYS = 2
PAYOUT_HOUR = 3
MINIMUM_PAYOUT = 100
PAYOUT_FAILURE_RATE = 0.015
PAYOUT_FAILURES = MappingProxyType(
    {
        ("account_closed", "The bank account has been closed."): 30.0,
        ("could_not_process", "The bank could not process this payout."): 30.0,
        (
            "invalid_account_number",
            "The routing number seems correct, but the account number is invalid.",
        ): 20.0,
        (
            "no_account",
            "The bank account details on file are probably incorrect. No bank account could be "
            "located with those details.",
        ): 10.0,
        (
            "bank_account_restricted",
            "The bank account has restrictions on either the type, or the number, of payouts allowed.",
        ): 10.0,
    }
)


class Ledger:
    def __init__(self, tenant: Tenant, seed: int, history: History) -> None:
        self.tenant = tenant
        self.seed = seed
        self.history = history
        self.currency = tenant.settlement_currency
        self.bank_account = make_id("ba_", seed, tenant.id, "bank-account")

    def _book(self, transaction: BalanceTransaction) -> BalanceTransaction:
        self.history.balance_transactions.append(transaction)
        return transaction

    def charge(self, charge: Charge, description: str) -> BalanceTransaction:
        amount, exchange_rate = fx.convert(
            charge.amount, charge.currency, self.currency, to_date(charge.created)
        )
        fees = self.tenant.fees
        fee = fx.basis_points(amount, fees.percent_bps) + fees.fixed
        if exchange_rate is not None:
            fee += fx.basis_points(amount, fees.conversion_bps)
        return self._book(
            BalanceTransaction(
                id=make_id("txn_", self.seed, self.tenant.id, "txn", charge.id),
                created=charge.created,
                available_on=midnight_after(charge.created, AVAILABILITY_DAYS),
                type="charge",
                reporting_category="charge",
                currency=self.currency,
                amount=amount,
                fee=fee,
                fee_description="Stripe processing fees",
                source=charge.id,
                description=description,
                exchange_rate=exchange_rate,
            )
        )

    def refund(self, refund_id: str, charge: Charge, amount: int, created: int) -> BalanceTransaction:
        settled, exchange_rate = fx.convert(amount, charge.currency, self.currency, to_date(created))
        return self._book(
            BalanceTransaction(
                id=make_id("txn_", self.seed, self.tenant.id, "txn", refund_id),
                created=created,
                available_on=created,
                type="refund",
                reporting_category="refund",
                currency=self.currency,
                amount=-settled,
                fee=0,
                fee_description=None,
                source=refund_id,
                description="REFUND FOR CHARGE (Subscription payment)",
                exchange_rate=exchange_rate,
            )
        )

    def dispute_withdrawal(self, dispute_id: str, charge: Charge, created: int) -> BalanceTransaction:
        day = to_date(created)
        settled, exchange_rate = fx.convert(charge.amount, charge.currency, self.currency, day)
        dispute_fee, _ = fx.convert(self.tenant.fees.dispute_fee_usd, "usd", self.currency, day)
        return self._book(
            BalanceTransaction(
                id=make_id("txn_", self.seed, self.tenant.id, "txn", dispute_id, "withdrawal"),
                created=created,
                available_on=created,
                type="adjustment",
                reporting_category="dispute",
                currency=self.currency,
                amount=-settled,
                fee=dispute_fee,
                fee_description="Dispute fee",
                source=dispute_id,
                description=f"Chargeback withdrawal for {charge.id}",
                exchange_rate=exchange_rate,
            )
        )

    def dispute_reinstatement(
        self, dispute_id: str, charge: Charge, withdrawal: BalanceTransaction, created: int
    ) -> BalanceTransaction:
        # A won dispute gives back exactly what was withdrawn, fee included.
        return self._book(
            BalanceTransaction(
                id=make_id("txn_", self.seed, self.tenant.id, "txn", dispute_id, "reinstatement"),
                created=created,
                available_on=created,
                type="adjustment",
                reporting_category="dispute_reversal",
                currency=self.currency,
                amount=-withdrawal.amount,
                fee=-withdrawal.fee,
                fee_description="Dispute fee",
                source=dispute_id,
                description=f"Chargeback reversal for {charge.id}",
                exchange_rate=withdrawal.exchange_rate,
            )
        )

    def billing_fees(self) -> None:
        """Stripe Billing's fee on each month's recurring volume, debited early the next month."""
        volume: dict[date, int] = {}
        for transaction in self.history.balance_transactions:
            if transaction.type == "charge":
                month = to_date(transaction.created).replace(day=1)
                volume[month] = volume.get(month, 0) + transaction.amount
        for month, amount in sorted(volume.items()):
            created = day_start(next_month_start(month) + timedelta(days=1)) + 6 * HOUR
            fee = fx.basis_points(amount, self.tenant.fees.billing_bps)
            if created > self.history.horizon or fee == 0:
                continue
            last_day = next_month_start(month) - timedelta(days=1)
            self._book(
                BalanceTransaction(
                    id=make_id("txn_", self.seed, self.tenant.id, "txn", "billing-fee", month),
                    created=created,
                    available_on=created,
                    type="stripe_fee",
                    reporting_category="fee",
                    currency=self.currency,
                    amount=-fee,
                    fee=0,
                    fee_description=None,
                    source=None,
                    description=f"Billing - Usage Fee ({month.isoformat()} - {last_day.isoformat()})",
                )
            )

    def payouts(self) -> None:
        """Automatic daily payouts of the whole available balance, in time order.

        Funds returned by a failed payout become available again and go out with the next one.
        """
        queue = [
            (transaction.available_on, index, transaction)
            for index, transaction in enumerate(self.history.balance_transactions)
        ]
        heapq.heapify(queue)
        sequence = len(queue)
        available, unswept = 0, []
        day = FOUNDED
        while (moment := day_start(day) + PAYOUT_HOUR * HOUR) <= self.history.horizon:
            while queue and queue[0][0] <= moment:
                transaction = heapq.heappop(queue)[2]
                available += transaction.net
                unswept.append(transaction)
            if available >= MINIMUM_PAYOUT:
                returned = self._payout(day, moment, available, unswept)
                if returned is not None:
                    heapq.heappush(queue, (returned.available_on, sequence, returned))
                    sequence += 1
                available, unswept = 0, []
            day += timedelta(days=1)

    def _payout(
        self, day: date, created: int, amount: int, swept: list[BalanceTransaction]
    ) -> BalanceTransaction | None:
        rng = stream(self.seed, self.tenant.id, "payout", day.isoformat())
        arrival = day_start(add_business_days(day, self.tenant.payout_business_days))
        payout = Payout(
            id=make_id("po_", self.seed, self.tenant.id, "payout", day.isoformat()),
            created=created,
            amount=amount,
            currency=self.currency,
            arrival_date=arrival,
            in_transit_at=created + 2 * HOUR,
            destination=self.bank_account,
            trace_number=f"{rng.randrange(10**14, 10**15)}",
        )
        payout.balance_transaction = self._book(
            BalanceTransaction(
                id=make_id("txn_", self.seed, self.tenant.id, "txn", payout.id),
                created=created,
                available_on=created,
                type="payout",
                reporting_category="payout",
                currency=self.currency,
                amount=-amount,
                fee=0,
                fee_description=None,
                source=payout.id,
                description="STRIPE PAYOUT",
                payout=payout,
            )
        )
        for transaction in swept:
            transaction.payout = payout
        self.history.payouts.append(payout)
        self.history.record(created, payout, "created")
        self.history.record(payout.in_transit_at, payout, "updated")
        if rng.random() >= PAYOUT_FAILURE_RATE:
            payout.paid_at = arrival + rng.randint(HOUR, 9 * HOUR)
            self.history.record(payout.paid_at, payout, "paid")
            return None
        payout.failed_at = arrival + rng.randint(4 * HOUR, 30 * HOUR)
        payout.failure_code, payout.failure_message = weighted(rng, PAYOUT_FAILURES)
        payout.failure_balance_transaction = self._book(
            BalanceTransaction(
                id=make_id("txn_", self.seed, self.tenant.id, "txn", payout.id, "failure"),
                created=payout.failed_at,
                available_on=payout.failed_at,
                type="payout_failure",
                reporting_category="payout_reversal",
                currency=self.currency,
                amount=amount,
                fee=0,
                fee_description=None,
                source=payout.id,
                description=f"Payout failure ({payout.failure_code})",
            )
        )
        self.history.record(payout.failed_at, payout, "failed")
        return payout.failure_balance_transaction
