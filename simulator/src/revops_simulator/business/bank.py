"""The tenant's bank: an operating account that receives the Stripe payouts, and a savings account.

Everything the bank shows is derived from the seed, the tenant and its Stripe history, keyed per
day or per payout, so a bank generated to a later clock starts with exactly this one. Each
transaction knows when it appears and (for pending ones) when it disappears, so the bank can be
seen at any instant up to its clock: that is what `/transactions/sync` diffs between cursors.

Amounts follow Plaid's sign convention (positive: money leaves the account) in integer minor units.

Besides one deposit per payout, a few payouts reach the bank the way real ones sometimes do
(`DepositDiscrepancy`, picked among the first months' payouts so they stay put as the clock
advances): with a receiving-bank fee taken off, split over two deposits, or batched with the next
payout into one deposit; and one posted transaction is posted twice, the duplicate removed by the
bank two days later (Plaid reports it in `/transactions/sync`'s `removed`).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from revops_simulator.business.clock import DAY, HOUR, add_business_days, day_start, to_date
from revops_simulator.business.entities import History, Payout
from revops_simulator.business.seeding import base62, stable_hash, stream
from revops_simulator.business.tenants import FOUNDED, Tenant

PLAID_ID_LENGTH = 37
MISSING_PAYOUT_RATE = 0.02
"""Share of paid payouts the bank never shows (a lost ACH, booked to another account...)."""
LATE_DEPOSIT_RATE = 0.2
"""Share of deposits posted one business day after the payout's arrival date."""
PENDING_RELEASE_RATE = 0.06
"""Share of card authorizations released without ever posting (pre-authorizations, voids)."""
ENRICHMENT_DELAY = DAY
"""Plaid fills `merchant_name` of a posted card transaction this long after it posts (a `modified`)."""
DepositDiscrepancyKind = Literal[
    "amount_mismatch", "split_deposit", "batched_deposit", "removed_after_posting"
]
ANOMALY_SLOTS: tuple[DepositDiscrepancyKind, ...] = ("amount_mismatch", "split_deposit", "batched_deposit")
ANOMALY_ONE_IN = 12
"""A payout's slot is its hash modulo this; each anomaly goes to the first payout of its slot."""
RECEIVING_FEE_MAX = 1_500
"""A receiving bank's incoming-transfer fee (minor units), at most 2.5% of the payout."""
DUPLICATE_REMOVED_AFTER = 2 * DAY
DUPLICATED_RENT_MONTH = (2026, 3)
"""The month whose rent debit the bank posts twice (the duplicate is removed two days later)."""

DepositDiscrepancyKind = Literal[
    "amount_mismatch", "split_deposit", "batched_deposit", "removed_after_posting"
]

# Currency exponents of the settlement currencies the simulated tenants bank in (ISO 4217).
CURRENCY_EXPONENTS = {"USD": 2, "GBP": 2, "EUR": 2}


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str


INSTITUTIONS = {
    "US": Institution("ins_109508", "First Platypus Bank"),
    "GB": Institution("ins_117650", "Royal Bank of Plaid"),
}


@dataclass(frozen=True)
class BankAccount:
    account_id: str
    name: str
    official_name: str
    mask: str
    subtype: str
    currency: str
    """Upper-case ISO code, as Plaid reports `iso_currency_code`."""


@dataclass(frozen=True)
class BankTransaction:
    transaction_id: str
    account_id: str
    amount: int
    """Minor units; positive is money out (Plaid's convention)."""
    currency: str
    name: str
    merchant: str | None
    payment_channel: str
    category: tuple[str, str]
    """Personal finance category (primary, detailed)."""
    transaction_code: str | None
    kind: str
    """What it is in the business: payout_deposit, deposit, card, payroll, rent, transfer, interest."""
    appears_at: int
    """When the bank starts showing it."""
    day: date
    """Posting date, or the authorization date while pending (Plaid's `date`)."""
    pending: bool = False
    authorized_day: date | None = None
    disappears_at: int | None = None
    """When a pending transaction stops being shown (it posted, or the hold was released)."""
    pending_transaction_id: str | None = None
    enriched_at: int | None = None
    """From when `merchant_name` is shown; None: shown from the start."""
    payout_ids: tuple[str, ...] = ()
    """The Stripe payouts this deposit brings in (two for a batched deposit)."""

    def visible_at(self, t: int) -> bool:
        return self.appears_at <= t and (self.disappears_at is None or t < self.disappears_at)

    @property
    def posted(self) -> bool:
        return not self.pending


@dataclass(frozen=True)
class DepositDiscrepancy:
    """Where the bank differs from one deposit per payout, for the amount the payout says."""

    kind: DepositDiscrepancyKind
    payout_ids: tuple[str, ...]
    transaction_ids: tuple[str, ...]
    payout_amount: int
    """Sum of the payouts (0 for `removed_after_posting`)."""
    deposit_amount: int
    """Sum of the deposits, money in positive (`removed_after_posting`: the removed amount, Plaid's sign)."""


def plaid_id(*parts: object) -> str:
    return base62(stable_hash(*parts, bits=230), PLAID_ID_LENGTH)


def to_major(amount: int, currency: str) -> float:
    """Minor units as the JSON number Plaid sends; its shortest repr is the exact decimal."""
    return float(Decimal(amount).scaleb(-CURRENCY_EXPONENTS.get(currency, 2)))


@dataclass(frozen=True)
class Vendor:
    name: str
    merchant: str
    day_of_month: int
    monthly: int
    """Typical monthly charge at scale 1.0, in major units."""
    category: tuple[str, str]


SERVICES = ("GENERAL_SERVICES", "GENERAL_SERVICES_OTHER_GENERAL_SERVICES")
VENDORS = (
    Vendor("AMAZON WEB SERVICES AWS.AMAZON.CO", "Amazon Web Services", 3, 300, SERVICES),
    Vendor("GOOGLE *WORKSPACE", "Google Workspace", 5, 50, SERVICES),
    Vendor("SLACK T0123ABCD", "Slack", 10, 60, SERVICES),
    Vendor("GITHUB, INC.", "GitHub", 12, 30, SERVICES),
    Vendor("DATADOG INC", "Datadog", 22, 120, SERVICES),
)  # fmt: skip
INCIDENTALS = (
    ("UBER *TRIP HELP.UBER.COM", "Uber", 35, ("TRANSPORTATION", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES")),
    ("PRET A MANGER", "Pret A Manger", 18, ("FOOD_AND_DRINK", "FOOD_AND_DRINK_FAST_FOOD")),
    ("UNITED AIRLINES", "United Airlines", 420, ("TRAVEL", "TRAVEL_FLIGHTS")),
    ("STAPLES 00123", "Staples", 60, ("GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_OFFICE_SUPPLIES")),
)
PAYROLL = {"US": "GUSTO PAYROLL NET PAY", "GB": "BACS PAYROLL SALARIES"}
RENT = {"US": "ACH DEBIT WEWORK RENT", "GB": "DD REGUS OFFICE RENT"}


def _payday(year: int, month: int, day_of_month: int) -> date:
    """The first business day on or after the given day of the month."""
    day = date(year, month, day_of_month)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass
class Bank:
    """One tenant's bank (one Plaid Item) at the clock `now`."""

    tenant: Tenant
    seed: int
    scale: float
    now: int
    item_id: str = ""
    institution: Institution = field(default_factory=lambda: INSTITUTIONS["US"])
    accounts: list[BankAccount] = field(default_factory=list)
    transactions: list[BankTransaction] = field(default_factory=list)
    """Every transaction that has appeared by `now`, in order of appearance."""
    payout_deposits: dict[str, str] = field(default_factory=dict)
    """Payout id → transaction id of the one deposit that brought it in, for the payout's amount."""
    missing_payouts: list[str] = field(default_factory=list)
    """Paid payouts the bank never shows, whose deposit was due by `now`."""
    discrepancies: list[DepositDiscrepancy] = field(default_factory=list)
    """Deposits that are not one per payout for its amount, and posted transactions later removed."""

    @classmethod
    def build(cls, tenant: Tenant, seed: int, scale: float, history: History, now: int) -> Bank:
        bank = cls(tenant, seed, scale, now)
        bank.item_id = plaid_id(seed, tenant.id, "plaid-item")
        bank.institution = INSTITUTIONS.get(tenant.country, INSTITUTIONS["US"])
        currency = tenant.settlement_currency.upper()
        label = "Business Checking" if tenant.country == "US" else "Business Current Account"
        bank.accounts = [
            BankAccount(
                plaid_id(seed, tenant.id, "plaid-account", "operating"),
                f"{tenant.name} Operating",
                f"{bank.institution.name} {label}",
                f"{stable_hash(seed, tenant.id, 'mask', 'operating') % 10_000:04d}",
                "checking",
                currency,
            ),
            BankAccount(
                plaid_id(seed, tenant.id, "plaid-account", "savings"),
                f"{tenant.name} Reserve",
                f"{bank.institution.name} Business Savings",
                f"{stable_hash(seed, tenant.id, 'mask', 'savings') % 10_000:04d}",
                "savings",
                currency,
            ),
        ]
        generated: list[BankTransaction] = []
        generated += bank._deposits(history.payouts)
        day = FOUNDED
        while day_start(day) <= now:
            generated += bank._day(day)
            day += timedelta(days=1)
        generated += bank._duplicate_posting(generated)
        # Appearance order; ids break ties so the order never depends on generation order.
        bank.transactions = sorted(
            (txn for txn in generated if txn.appears_at <= now),
            key=lambda txn: (txn.appears_at, txn.transaction_id),
        )
        return bank

    # --- generation ---

    @property
    def operating(self) -> BankAccount:
        return self.accounts[0]

    @property
    def savings(self) -> BankAccount:
        return self.accounts[1]

    def _minor(self, rng: random.Random, major: float, spread: float = 0.15) -> int:
        """A realistic amount around `major` (at scale 1.0), with cents, in minor units."""
        value = major * self.scale * (1 + rng.uniform(-spread, spread))
        return max(100, round(value * 100))

    def _ach(
        self,
        key: tuple[object, ...],
        account: BankAccount,
        day: date,
        amount: int,
        name: str,
        kind: str,
        category: tuple[str, str],
        merchant: str | None = None,
        transaction_code: str | None = "transfer",
        payout_ids: tuple[str, ...] = (),
    ) -> BankTransaction:
        """A transaction that posts directly, without a pending phase (ACH, wires, book transfers)."""
        rng = stream(self.seed, self.tenant.id, "ach-time", *key)
        return BankTransaction(
            transaction_id=plaid_id(self.seed, self.tenant.id, "txn", *key),
            account_id=account.account_id,
            amount=amount,
            currency=account.currency,
            name=name,
            merchant=merchant,
            payment_channel="other",
            category=category,
            transaction_code=transaction_code,
            kind=kind,
            appears_at=day_start(day) + 6 * HOUR + rng.randrange(0, 6 * HOUR),
            day=day,
            payout_ids=payout_ids,
        )

    def _card(
        self,
        key: tuple[object, ...],
        day: date,
        amount: int,
        name: str,
        merchant: str,
        category: tuple[str, str],
    ) -> list[BankTransaction]:
        """A card purchase: pending from authorization, then posted (or released) days later."""
        rng = stream(self.seed, self.tenant.id, "card", *key)
        authorized_at = day_start(day) + 8 * HOUR + rng.randrange(0, 12 * HOUR)
        settle_day = add_business_days(day, rng.randint(1, 3))
        settled_at = day_start(settle_day) + 5 * HOUR + rng.randrange(0, 3 * HOUR)
        pending_id = plaid_id(self.seed, self.tenant.id, "txn", *key, "pending")
        common: dict[str, Any] = {
            "account_id": self.operating.account_id,
            "amount": amount,
            "currency": self.operating.currency,
            "name": name,
            "merchant": merchant,
            "payment_channel": "online" if ".COM" in name or "*" in name else "in store",
            "category": category,
            "transaction_code": "purchase",
            "kind": "card",
            "authorized_day": day,
        }
        pending = BankTransaction(
            transaction_id=pending_id,
            appears_at=authorized_at,
            day=day,
            pending=True,
            disappears_at=settled_at,
            **common,
        )
        if rng.random() < PENDING_RELEASE_RATE:
            return [pending]
        posted = BankTransaction(
            transaction_id=plaid_id(self.seed, self.tenant.id, "txn", *key, "posted"),
            appears_at=settled_at,
            day=settle_day,
            pending_transaction_id=pending_id,
            enriched_at=settled_at + ENRICHMENT_DELAY,
            **common,
        )
        return [pending, posted]

    def _anomalies(self, payouts: list[Payout]) -> dict[str, tuple[DepositDiscrepancyKind, Payout | None]]:
        """Payout id → how its deposit differs (and the payout batched with it).

        Each kind goes to the first payout (in creation order) of its slot, a payout's slot being
        fixed by its hash when it is created, so a later clock never moves a pick.
        """
        ordered = sorted((p for p in payouts if p.amount > 0), key=lambda p: (p.created, p.id))
        anomalies: dict[str, tuple[DepositDiscrepancyKind, Payout | None]] = {}
        for kind in ANOMALY_SLOTS:
            slot = ANOMALY_SLOTS.index(kind)
            chosen = next(
                (
                    p
                    for p in ordered
                    if p.id not in anomalies
                    and stable_hash(self.seed, self.tenant.id, "bank-slot", p.id) % ANOMALY_ONE_IN == slot
                ),
                None,
            )
            if chosen is None:
                continue
            if kind != "batched_deposit":
                anomalies[chosen.id] = (kind, None)
                continue
            # Batched with the payout created next: the bank holds the first until the second arrives.
            later = [p for p in ordered if (p.created, p.id) > (chosen.created, chosen.id)]
            partner = next((p for p in later if p.id not in anomalies), None)
            if partner is None:
                anomalies[chosen.id] = (kind, None)  # held until its partner exists
                continue
            anomalies[chosen.id] = (kind, partner)
            anomalies[partner.id] = (kind, chosen)
        return anomalies

    def _stripe_deposit(
        self, payouts: tuple[Payout, ...], day: date, amount: int, part: str = ""
    ) -> BankTransaction:
        trace = stable_hash(self.seed, payouts[0].id, "trace", *((part,) if part else ()))
        reference = "ST-" + base62(trace, 12).upper()
        return self._ach(
            ("payout", *(p.id for p in payouts), *((part,) if part else ())),
            self.operating,
            day,
            -amount,
            f"STRIPE TRANSFER {reference} {self.tenant.statement_descriptor}",
            "payout_deposit",
            ("INCOME", "INCOME_OTHER_INCOME"),
            merchant="Stripe",
            payout_ids=tuple(p.id for p in payouts),
        )

    def _deposits(self, payouts: list[Payout]) -> list[BankTransaction]:
        deposits = []
        anomalies = self._anomalies(payouts)
        for payout in payouts:
            if payout.failed_at is not None:
                continue  # the funds went back to the Stripe balance, never to the bank
            rng = stream(self.seed, self.tenant.id, "payout-deposit", payout.id)
            arrival = to_date(payout.arrival_date)
            created_day = to_date(payout.created)
            day = arrival
            late = rng.random() < LATE_DEPOSIT_RATE
            missing = rng.random() < MISSING_PAYOUT_RATE
            kind, partner = anomalies.get(payout.id, (None, None))
            if kind is None and late:
                day = min(add_business_days(arrival, 1), add_business_days(created_day, 3))
            if kind == "batched_deposit":
                if partner is None or (payout.created, payout.id) < (partner.created, partner.id):
                    continue  # the later payout's deposit carries both
                day = max(arrival, to_date(partner.arrival_date))
            if day_start(day) > self.now:
                continue
            if kind is None and missing:
                self.missing_payouts.append(payout.id)
                continue
            if kind is None:
                deposit = self._stripe_deposit((payout,), day, payout.amount)
                self.payout_deposits[payout.id] = deposit.transaction_id
                deposits.append(deposit)
            elif kind == "amount_mismatch":
                fee = max(1, min(RECEIVING_FEE_MAX, payout.amount // 40))
                deposit = self._stripe_deposit((payout,), day, payout.amount - fee)
                deposits.append(deposit)
                self._discrepancy(kind, (payout,), (deposit,))
            elif kind == "split_deposit":
                first_part = payout.amount * 3 // 5
                parts = [self._stripe_deposit((payout,), day, first_part, "1/2")]
                second_day = add_business_days(day, 1)
                if day_start(second_day) <= self.now:
                    parts.append(
                        self._stripe_deposit((payout,), second_day, payout.amount - first_part, "2/2")
                    )
                deposits += parts
                self._discrepancy(kind, (payout,), tuple(parts))
            else:
                assert partner is not None
                batch = (partner, payout)
                deposit = self._stripe_deposit(batch, day, payout.amount + partner.amount)
                deposits.append(deposit)
                self._discrepancy(kind, batch, (deposit,))
        return deposits

    def _discrepancy(
        self, kind: DepositDiscrepancyKind, payouts: tuple[Payout, ...], deposits: tuple[BankTransaction, ...]
    ) -> None:
        self.discrepancies.append(
            DepositDiscrepancy(
                kind,
                tuple(p.id for p in payouts),
                tuple(d.transaction_id for d in deposits),
                sum(p.amount for p in payouts),
                -sum(d.amount for d in deposits),
            )
        )

    def _duplicate_posting(self, generated: list[BankTransaction]) -> list[BankTransaction]:
        """The month's rent debit posted twice; the bank removes the duplicate two days later."""
        year, month = DUPLICATED_RENT_MONTH
        rent_day = _payday(year, month, 1)
        original = next((t for t in generated if t.kind == "rent" and t.day == rent_day), None)
        if original is None:
            return []
        duplicate = replace(
            original,
            transaction_id=plaid_id(self.seed, self.tenant.id, "txn", "duplicate", original.transaction_id),
            appears_at=original.appears_at + 5 * 60,
            disappears_at=original.appears_at + DUPLICATE_REMOVED_AFTER,
        )
        if duplicate.appears_at > self.now:
            return []
        if duplicate.disappears_at is not None and duplicate.disappears_at <= self.now:
            self.discrepancies.append(
                DepositDiscrepancy(
                    "removed_after_posting", (), (duplicate.transaction_id,), 0, duplicate.amount
                )
            )
        return [duplicate]

    def _day(self, day: date) -> list[BankTransaction]:
        """Everything else the business does with its bank on `day`."""
        rng = stream(self.seed, self.tenant.id, "bank-day", day.isoformat())
        country = self.tenant.country
        out: list[BankTransaction] = []
        transfer_in, transfer_out = (
            ("TRANSFER_IN", "TRANSFER_IN_ACCOUNT_TRANSFER"),
            (
                "TRANSFER_OUT",
                "TRANSFER_OUT_ACCOUNT_TRANSFER",
            ),
        )
        if day == FOUNDED:
            # Seed capital: what keeps the account positive before revenue ramps up.
            for account, major in ((self.operating, 60_000), (self.savings, 40_000)):
                out.append(
                    self._ach(
                        ("opening", account.subtype),
                        account,
                        day,
                        -round(major * self.scale * 100),
                        "WIRE TRANSFER IN SEED CAPITAL",
                        "deposit",
                        transfer_in,
                        transaction_code=None,
                    )
                )
        year, month = day.year, day.month
        if day == _payday(year, month, 1):
            out.append(
                self._ach(
                    ("rent", day), self.operating, day, self._minor(rng, 800, 0),
                    RENT.get(country, RENT["US"]), "rent", ("RENT_AND_UTILITIES", "RENT_AND_UTILITIES_RENT"),
                    transaction_code="direct debit",
                )
            )  # fmt: skip
        if day in (_payday(year, month, 15), _payday(year, month, 28)):
            out.append(
                self._ach(
                    ("payroll", day), self.operating, day, self._minor(rng, 1_500, 0.05),
                    PAYROLL.get(country, PAYROLL["US"]), "payroll", SERVICES,
                )
            )  # fmt: skip
        if day == _payday(year, month, 20):
            amount = self._minor(rng, 300, 0.3)
            name = f"ONLINE TRANSFER TO SAVINGS XXXXXX{self.savings.mask}"
            out.append(
                self._ach(("sweep-out", day), self.operating, day, amount, name, "transfer", transfer_out)
            )
            name = f"ONLINE TRANSFER FROM CHECKING XXXXXX{self.operating.mask}"
            out.append(
                self._ach(("sweep-in", day), self.savings, day, -amount, name, "transfer", transfer_in)
            )
        if (day + timedelta(days=1)).day == 1:
            out.append(
                self._ach(
                    ("interest", day), self.savings, day, -self._minor(rng, 15, 0.2), "INTEREST PAYMENT",
                    "interest", ("INCOME", "INCOME_INTEREST_EARNED"), transaction_code="interest",
                )
            )  # fmt: skip
        for vendor in VENDORS:
            if day == _payday(year, month, vendor.day_of_month):
                amount = self._minor(rng, vendor.monthly, 0.1)
                out += self._card(
                    ("vendor", vendor.merchant, day),
                    day,
                    amount,
                    vendor.name,
                    vendor.merchant,
                    vendor.category,
                )
        if rng.random() < 0.25:
            name, merchant, major, category = rng.choice(INCIDENTALS)
            amount = self._minor(rng, major / 4, 0.4)
            out += self._card(("incidental", day), day, amount, name, merchant, category)
        if day.weekday() < 5 and rng.random() < 0.03:
            # A customer paying an invoice by wire: money in that no Stripe payout explains.
            out.append(
                self._ach(
                    ("wire", day), self.operating, day, -self._minor(rng, 600, 0.5),
                    f"WIRE TRANSFER IN REF {rng.randrange(10**9, 10**10)}", "deposit",
                    ("TRANSFER_IN", "TRANSFER_IN_DEPOSIT"), transaction_code=None,
                )
            )  # fmt: skip
        return out

    # --- the bank seen at an instant ---

    def visible(self, t: int) -> list[BankTransaction]:
        """Transactions shown at `t` (≤ now), in order of appearance."""
        end = bisect_right([txn.appears_at for txn in self.transactions], t)
        return [txn for txn in self.transactions[:end] if txn.visible_at(t)]

    def balances(self, t: int) -> dict[str, tuple[int, int]]:
        """Per account (current, available) in minor units, money in positive.

        Current is the sum of posted transactions; available also holds back pending debits.
        """
        result = {account.account_id: (0, 0) for account in self.accounts}
        for txn in self.visible(t):
            current, available = result[txn.account_id]
            if txn.posted:
                result[txn.account_id] = (current - txn.amount, available - txn.amount)
            elif txn.amount > 0:
                result[txn.account_id] = (current, available - txn.amount)
        return result

    def unmatched_deposits(self, t: int) -> list[str]:
        """Money in on the operating account at `t` that no Stripe payout explains."""
        return [
            txn.transaction_id
            for txn in self.visible(t)
            if txn.account_id == self.operating.account_id and txn.amount < 0 and not txn.payout_ids
        ]

    # --- Plaid's shapes ---

    def render_transaction(self, txn: BankTransaction, t: int) -> dict[str, Any]:
        primary, detailed = txn.category
        enriched = txn.enriched_at is None or txn.enriched_at <= t
        return {
            "account_id": txn.account_id,
            "account_owner": None,
            "amount": to_major(txn.amount, txn.currency),
            "iso_currency_code": txn.currency,
            "unofficial_currency_code": None,
            "category": None,
            "category_id": None,
            "check_number": None,
            "counterparties": [],
            "date": txn.day.isoformat(),
            "datetime": None,
            "authorized_date": txn.authorized_day.isoformat() if txn.authorized_day else None,
            "authorized_datetime": None,
            "location": dict.fromkeys(
                ("address", "city", "region", "postal_code", "country", "lat", "lon", "store_number")
            ),
            "logo_url": None,
            "merchant_entity_id": None,
            "merchant_name": txn.merchant if enriched else None,
            "name": txn.name,
            "original_description": None,
            "payment_channel": txn.payment_channel,
            "payment_meta": dict.fromkeys(
                (
                    "by_order_of",
                    "payee",
                    "payer",
                    "payment_method",
                    "payment_processor",
                    "ppd_id",
                    "reason",
                    "reference_number",
                )
            ),
            "pending": txn.pending,
            "pending_transaction_id": txn.pending_transaction_id,
            "personal_finance_category": {
                "primary": primary,
                "detailed": detailed,
                "confidence_level": "VERY_HIGH",
            },
            "personal_finance_category_icon_url": f"https://plaid-category-icons.plaid.com/PFC_{primary}.png",
            "transaction_code": txn.transaction_code,
            "transaction_id": txn.transaction_id,
            "transaction_type": "place" if txn.payment_channel == "in store" else "special",
            "website": None,
        }

    def render_accounts(self, t: int) -> list[dict[str, Any]]:
        balances = self.balances(t)
        return [
            {
                "account_id": account.account_id,
                "balances": {
                    "available": to_major(balances[account.account_id][1], account.currency),
                    "current": to_major(balances[account.account_id][0], account.currency),
                    "limit": None,
                    "iso_currency_code": account.currency,
                    "unofficial_currency_code": None,
                    "last_updated_datetime": None,
                },
                "mask": account.mask,
                "name": account.name,
                "official_name": account.official_name,
                "type": "depository",
                "subtype": account.subtype,
                "holder_category": "business",
            }
            for account in self.accounts
        ]

    def render_item(self, webhook: str | None = None) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "institution_id": self.institution.institution_id,
            "institution_name": self.institution.name,
            "webhook": webhook,
            "auth_method": None,
            "error": None,
            "available_products": ["balance", "auth"],
            "billed_products": ["transactions"],
            "products": ["transactions"],
            "consented_products": ["transactions"],
            "consent_expiration_time": None,
            "update_type": "background",
        }
