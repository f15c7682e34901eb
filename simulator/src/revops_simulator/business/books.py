"""A tenant's accounting books, kept by its bookkeeper from its Stripe activity.

The books are provider-neutral (integer minor units, epoch seconds); `simulator.quickbooks` and
`simulator.xero` render them in each accounting system's shapes. They mirror Stripe as a bookkeeper
would: a customer per Stripe customer, an item per product, an invoice per finalized Stripe invoice
with something to collect, a payment per paid invoice, a deposit per paid payout and a journal entry
per month for Stripe's fees. A few deliberate, deterministic mistakes (`Discrepancy`) make the books
differ from Stripe the way real books do; reconciliation is expected to find exactly those.

Like the rest of the simulation the books are a pure function of (history, seed, clock), and
numbering is by creation order, so an entity keeps its number when the clock advances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from revops_simulator.business.clock import day_start, next_month_start, to_date
from revops_simulator.business.entities import History, Invoice, seen
from revops_simulator.business.seeding import stable_hash
from revops_simulator.business.tenants import FOUNDED, Tenant

ACCOUNTING_SYSTEMS = {"acme": "quickbooks", "globex": "xero"}
"""Which accounting system each simulated tenant keeps its books in."""
DISCREPANCY_WINDOW = timedelta(days=240)
"""Mistakes are picked among the invoices of the first months, so they stay put as the clock advances."""

AccountKind = Literal["bank", "clearing", "receivable", "income", "expense"]
InvoiceStatus = Literal["open", "paid", "voided"]
DiscrepancyKind = Literal["missing_invoice", "amount_mismatch", "payment_date_mismatch"]


@dataclass(frozen=True)
class BookAccount:
    number: int
    code: str
    name: str
    kind: AccountKind
    created: int


@dataclass(frozen=True)
class BookCustomer:
    number: int
    stripe_id: str
    name: str
    email: str
    country: str
    currency: str
    created: int


@dataclass(frozen=True)
class BookItem:
    number: int
    stripe_id: str
    name: str
    description: str
    created: int


@dataclass(frozen=True)
class BookLine:
    description: str
    amount: int
    item: BookItem | None
    quantity: int


@dataclass(frozen=True)
class BookInvoice:
    number: int
    stripe_id: str
    doc_number: str
    customer: BookCustomer
    currency: str
    issued: int
    lines: tuple[BookLine, ...]
    status: InvoiceStatus
    created: int
    updated: int

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def balance(self) -> int:
        return self.total if self.status == "open" else 0


@dataclass(frozen=True)
class BookPayment:
    number: int
    invoice: BookInvoice
    amount: int
    paid_on: date
    """The date the bookkeeper recorded, which a mistake may move off the real one."""
    created: int


@dataclass(frozen=True)
class BookDeposit:
    number: int
    stripe_payout_id: str
    currency: str
    amount: int
    deposited_on: date
    created: int


@dataclass(frozen=True)
class BookJournal:
    number: int
    month: str
    """`YYYY-MM` whose Stripe fees the entry books (debit fees, credit the Stripe clearing account)."""
    currency: str
    amount: int
    posted_on: date
    created: int


@dataclass(frozen=True)
class Discrepancy:
    kind: DiscrepancyKind
    stripe_invoice_id: str
    stripe_value: str
    books_value: str | None
    """What Stripe says and what the books say (amounts in minor units, dates ISO); None if absent."""


@dataclass
class Books:
    tenant_id: str
    home_currency: str
    now: int
    accounts: list[BookAccount] = field(default_factory=list)
    customers: list[BookCustomer] = field(default_factory=list)
    items: list[BookItem] = field(default_factory=list)
    invoices: list[BookInvoice] = field(default_factory=list)
    payments: list[BookPayment] = field(default_factory=list)
    deposits: list[BookDeposit] = field(default_factory=list)
    journals: list[BookJournal] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)


# The chart of accounts every simulated company starts with: (code, name, kind).
CHART: tuple[tuple[str, str, AccountKind], ...] = (
    ("1000", "Business Checking", "bank"),
    ("1100", "Accounts Receivable", "receivable"),
    ("1150", "Stripe Clearing", "clearing"),
    ("4000", "Subscription Revenue", "income"),
    ("6100", "Stripe Fees", "expense"),
)


def account(books: Books, kind: AccountKind) -> BookAccount:
    return next(entry for entry in books.accounts if entry.kind == kind)


def _numbered(keys: Sequence[tuple[int, str]]) -> dict[str, int]:
    """Stable numbers by (created, stripe id): a later clock only appends, so numbers never move."""
    return {stripe_id: number for number, (_, stripe_id) in enumerate(sorted(keys), start=1)}


def _pick(
    seed: int, tenant_id: str, kind: str, candidates: Sequence[Invoice], taken: set[str]
) -> Invoice | None:
    remaining = [invoice for invoice in candidates if invoice.id not in taken]
    if not remaining:
        return None
    chosen = min(remaining, key=lambda invoice: stable_hash(seed, tenant_id, "books", kind, invoice.id))
    taken.add(chosen.id)
    return chosen


def keep_books(history: History, tenant: Tenant, seed: int, now: int) -> Books:
    """The tenant's books at `now`, derived from its Stripe history."""
    books = Books(tenant.id, tenant.settlement_currency.upper(), now)
    opened = day_start(FOUNDED)
    books.accounts = [
        BookAccount(number, code, name, kind, opened)
        for number, (code, name, kind) in enumerate(CHART, start=1)
    ]

    customers = [customer for customer in history.customers if customer.created <= now]
    numbers = _numbered([(customer.created, customer.id) for customer in customers])
    book_customers = {
        customer.id: BookCustomer(
            numbers[customer.id],
            customer.id,
            customer.name,
            customer.email,
            customer.country,
            (customer.currency.at(now) or tenant.settlement_currency).upper(),
            customer.created,
        )
        for customer in customers
    }
    books.customers = sorted(book_customers.values(), key=lambda entry: entry.number)

    products = [product for product in history.products if product.created <= now]
    numbers = _numbered([(product.created, product.id) for product in products])
    book_items = {
        product.id: BookItem(
            numbers[product.id], product.id, product.name, product.description, product.created
        )
        for product in products
    }
    books.items = sorted(book_items.values(), key=lambda entry: entry.number)

    # Zero-amount invoices (trials, fully credited periods) move no money; bookkeepers skip them.
    finalized = [
        invoice
        for invoice in history.invoices
        if seen(invoice.finalized_at, now) is not None and invoice.amount_due > 0
    ]
    window_end = day_start(FOUNDED + DISCREPANCY_WINDOW)
    early = [
        invoice
        for invoice in finalized
        if invoice.finalized_at is not None and invoice.finalized_at < window_end
    ]
    taken: set[str] = set()
    missing = _pick(seed, tenant.id, "missing", early, taken)
    mistyped = _pick(seed, tenant.id, "amount", early, taken)
    misdated = _pick(seed, tenant.id, "date", [i for i in early if seen(i.paid_at, now)], taken)

    numbers = _numbered(
        [(invoice.finalized_at or 0, invoice.id) for invoice in finalized if invoice is not missing]
    )
    for invoice in finalized:
        if invoice is missing:
            books.discrepancies.append(
                Discrepancy("missing_invoice", invoice.id, str(invoice.amount_due), None)
            )
            continue
        lines = _lines(invoice, book_items)
        if invoice is mistyped:
            # A few cents typed wrong on the first line (never making it negative).
            cents = 1 + stable_hash(seed, tenant.id, "books", "cents", invoice.id) % 9
            delta = cents if lines[0].amount <= cents or stable_hash(invoice.id) % 2 else -cents
            first = lines[0]
            lines[0] = BookLine(first.description, first.amount + delta, first.item, first.quantity)
        book_invoice = _invoice(invoice, numbers[invoice.id], book_customers[invoice.customer.id], lines, now)
        books.invoices.append(book_invoice)
        if invoice is mistyped:
            books.discrepancies.append(
                Discrepancy("amount_mismatch", invoice.id, str(invoice.amount_due), str(book_invoice.total))
            )
    books.invoices.sort(key=lambda entry: entry.number)

    paid = [invoice for invoice in books.invoices if invoice.status == "paid"]
    stripe_invoices = {invoice.id: invoice for invoice in finalized}
    for number, book_invoice in enumerate(
        sorted(paid, key=lambda entry: (entry.updated, entry.stripe_id)), start=1
    ):
        paid_at = stripe_invoices[book_invoice.stripe_id].paid_at
        assert paid_at is not None
        paid_on = to_date(paid_at)
        if misdated is not None and book_invoice.stripe_id == misdated.id:
            recorded = paid_on + timedelta(
                days=2 + stable_hash(seed, tenant.id, "books", "days", misdated.id) % 3
            )
            books.discrepancies.append(
                Discrepancy("payment_date_mismatch", misdated.id, paid_on.isoformat(), recorded.isoformat())
            )
            paid_on = recorded
        books.payments.append(BookPayment(number, book_invoice, book_invoice.total, paid_on, paid_at))

    paid_payouts = [
        payout for payout in history.payouts if seen(payout.paid_at, now) is not None and payout.amount > 0
    ]
    for number, payout in enumerate(sorted(paid_payouts, key=lambda p: (p.paid_at or 0, p.id)), start=1):
        assert payout.paid_at is not None
        books.deposits.append(
            BookDeposit(
                number,
                payout.id,
                payout.currency.upper(),
                payout.amount,
                to_date(payout.arrival_date),
                payout.paid_at,
            )
        )

    books.journals = _fee_journals(history, books.home_currency, now)
    return books


def _lines(invoice: Invoice, items: dict[str, BookItem]) -> list[BookLine]:
    lines = [
        BookLine(line.description, line.amount, items.get(line.price.product.id), line.quantity)
        for line in invoice.lines
    ]
    if invoice.starting_balance:
        # Customer credit Stripe applied to this invoice: the books show it as a negative line.
        lines.append(BookLine("Applied customer credit", invoice.starting_balance, None, 1))
    return lines


def _invoice(
    invoice: Invoice, number: int, customer: BookCustomer, lines: list[BookLine], now: int
) -> BookInvoice:
    assert invoice.finalized_at is not None
    status: InvoiceStatus = "open"
    updated = invoice.finalized_at
    if seen(invoice.paid_at, now) is not None and invoice.paid_at is not None:
        status, updated = "paid", invoice.paid_at
    elif seen(invoice.voided_at, now) is not None and invoice.voided_at is not None:
        status, updated = "voided", invoice.voided_at
    return BookInvoice(
        number=number,
        stripe_id=invoice.id,
        doc_number=invoice.number,
        customer=customer,
        currency=invoice.currency.upper(),
        issued=invoice.finalized_at,
        lines=tuple(lines),
        status=status,
        created=invoice.finalized_at,
        updated=updated,
    )


def _fee_journals(history: History, currency: str, now: int) -> list[BookJournal]:
    """One entry per closed month: Stripe's fees of the month, posted on the 1st of the next."""
    fees: dict[date, int] = defaultdict(int)
    for transaction in history.balance_transactions:
        if transaction.created > now:
            continue
        month = to_date(transaction.created).replace(day=1)
        fees[month] += transaction.fee + (-transaction.amount if transaction.type == "stripe_fee" else 0)
    journals = []
    for month in sorted(fees):
        posted = next_month_start(month)
        created = day_start(posted) + 9 * 3600
        if created > now or fees[month] == 0:
            continue
        journals.append(
            BookJournal(
                len(journals) + 1,
                f"{month:%Y-%m}",
                currency,
                fees[month],
                posted - timedelta(days=1),
                created,
            )
        )
    return journals
