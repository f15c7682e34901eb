"""A tenant's accounting books, kept by its bookkeeper from its Stripe activity.

The books are provider-neutral (integer minor units, epoch seconds); `simulator.quickbooks` and
`simulator.xero` render them in each accounting system's shapes. They mirror Stripe as a bookkeeper
would: a customer per Stripe customer, an item per product, an invoice per finalized Stripe invoice
with something to collect, a payment per paid invoice, a deposit per paid payout, a journal entry
per month for Stripe's fees, and a bad-debt credit that writes off each invoice Stripe marks
uncollectible. Deliberate, deterministic mistakes and books-only activity (`Discrepancy`) make the
books differ from Stripe the way real books do; reconciliation is expected to find exactly those:

- an invoice never entered, one typed a few cents off, a payment recorded on the wrong date;
- a payment Stripe collected that the books never recorded, and a payment the books recorded (a
  customer who paid by wire) for an invoice Stripe voided or gave up on;
- an invoice Stripe wrote off that the books keep open;
- an invoice deleted in the books (QuickBooks deletes it; Xero can only void an approved invoice);
- an invoice numbered differently from Stripe;
- an invoice issued in the books only, and a books-only draft later deleted;
- credits (credit memos / credit notes) the books record against invoices, see
  `credit_notes_to_mirror`;
- money received that no invoice explains: an overpayment and a prepayment.

Like the rest of the simulation the books are a pure function of (history, seed, clock), and
numbering is by creation order, so an entity keeps its number when the clock advances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from revops_simulator.business.clock import DAY, HOUR, day_start, next_month_start, to_date
from revops_simulator.business.entities import History, Invoice, seen
from revops_simulator.business.seeding import stable_hash
from revops_simulator.business.tenants import FOUNDED, Tenant

ACCOUNTING_SYSTEMS = {"acme": "quickbooks", "globex": "xero"}
"""Which accounting system each simulated tenant keeps its books in."""
SLOTS = (
    "missing", "amount", "date", "unpaid", "renumber", "deleted", "credit", "refund", "overpaid",
)  # fmt: skip
"""Each finalized invoice falls in one slot (by its hash); each deliberate difference applies to the
first invoice of its slot, so picks are disjoint and never move as the clock advances."""
DELETED_AFTER = 10 * DAY
"""How long after entering it the bookkeeper deletes the invoice they take for a duplicate."""
WRITE_OFF_DELAY = DAY
"""The bookkeeper writes off an invoice the day after Stripe marks it uncollectible."""
BOOKS_ONLY_INVOICE_DAY = FOUNDED + timedelta(days=60)
BOOKS_ONLY_DRAFT_DAY = FOUNDED + timedelta(days=75)
PREPAYMENT_DAY = FOUNDED + timedelta(days=90)

AccountKind = Literal["bank", "clearing", "receivable", "income", "expense", "bad_debt"]
InvoiceStatus = Literal["open", "paid", "voided"]
CreditOutcome = Literal["applied", "customer_credit", "refund"]
PaymentKind = Literal["invoice", "credit_application", "overpayment", "prepayment"]
DiscrepancyKind = Literal[
    "missing_invoice",
    "amount_mismatch",
    "payment_date_mismatch",
    "payment_missing_in_books",
    "payment_missing_in_stripe",
    "written_off_open_in_books",
    "deleted_in_books",
    "renumbered_in_books",
    "invoice_missing_in_stripe",
    "credit_missing_in_stripe",
]


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
    stripe_id: str | None
    """The Stripe invoice it was copied from; None for an invoice issued in the books only."""
    doc_number: str
    customer: BookCustomer
    currency: str
    issued: int
    lines: tuple[BookLine, ...]
    status: InvoiceStatus
    created: int
    updated: int
    credited: int = 0
    """Credits applied to it (a write-off, a credit before payment), minor units."""
    draft: bool = False
    """Entered and never approved (Xero's DRAFT; QuickBooks has no drafts and shows it as any invoice)."""
    deleted_at: int | None = None
    """When the bookkeeper deleted it (≤ the clock): QuickBooks drops it (CDC reports it `Deleted`);
    Xero deletes a draft and voids an approved invoice, which it never deletes."""

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def balance(self) -> int:
        return self.total - self.credited if self.status == "open" else 0

    @property
    def amount_paid(self) -> int:
        return self.total - self.credited if self.status == "paid" else 0


@dataclass(frozen=True)
class BookCredit:
    """A credit memo (QuickBooks CreditMemo / RefundReceipt, Xero ACCRECCREDIT credit note)."""

    number: int
    """Per document type: credit memos (applied or left as customer credit) and refunds are
    numbered apart, as QuickBooks keeps them as different entities."""
    doc_number: str
    customer: BookCustomer
    invoice: BookInvoice | None
    """The invoice it concerns."""
    currency: str
    amount: int
    description: str
    account: AccountKind
    """What the line is booked to: `income` for a service credit, `bad_debt` for a write-off."""
    outcome: CreditOutcome
    """`applied` to the invoice's open balance, left as `customer_credit`, or paid back (`refund`)."""
    issued: date
    created: int
    stripe_credit_note_id: str | None = None
    """The Stripe credit note it mirrors (None: recorded in the books only)."""


@dataclass(frozen=True)
class BookPayment:
    number: int
    customer: BookCustomer
    amount: int
    paid_on: date
    """The date the bookkeeper recorded, which a mistake may move off the real one."""
    created: int
    kind: PaymentKind = "invoice"
    """A receipt applied to an invoice, a credit memo applied to one (QuickBooks: a zero payment
    linking both), or money received that no invoice explains (an overpayment or a prepayment)."""
    invoice: BookInvoice | None = None
    credit: BookCredit | None = None
    currency: str = ""


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
    stripe_invoice_id: str | None
    """The Stripe invoice concerned; None for books-only activity."""
    stripe_value: str | None
    books_value: str | None
    """What Stripe says and what the books say (amounts in minor units, dates ISO, statuses, numbers);
    None if absent."""
    books_number: str | None = None
    """The books document concerned (invoice or credit note number), when there is one."""


@dataclass
class Books:
    tenant_id: str
    home_currency: str
    now: int
    accounts: list[BookAccount] = field(default_factory=list)
    customers: list[BookCustomer] = field(default_factory=list)
    items: list[BookItem] = field(default_factory=list)
    invoices: list[BookInvoice] = field(default_factory=list)
    """Every invoice entered by the clock, deleted ones included (see `BookInvoice.deleted_at`)."""
    payments: list[BookPayment] = field(default_factory=list)
    credits: list[BookCredit] = field(default_factory=list)
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
    ("6200", "Bad Debts", "bad_debt"),
)


def account(books: Books, kind: AccountKind) -> BookAccount:
    return next(entry for entry in books.accounts if entry.kind == kind)


def _numbered(keys: Sequence[tuple[int, str]]) -> dict[str, int]:
    """Stable numbers by (created, key): a later clock only appends, so numbers never move."""
    return {key: number for number, (_, key) in enumerate(sorted(keys), start=1)}


def _first(candidates: Sequence[tuple[int, Invoice]], taken: set[str]) -> Invoice | None:
    """The earliest by the time of what made it a candidate: later events never change the pick."""
    remaining = sorted((at, invoice.id, invoice) for at, invoice in candidates if invoice.id not in taken)
    if not remaining:
        return None
    chosen = remaining[0][2]
    taken.add(chosen.id)
    return chosen


def renumbered(number: str) -> str:
    """How the bookkeeper re-typed one Stripe number: without its hyphen (`C6005CEF0001`)."""
    return number.replace("-", "")


@dataclass(frozen=True)
class Picks:
    """The Stripe invoices each deliberate difference applies to (None when no invoice qualifies)."""

    missing: Invoice | None
    mistyped: Invoice | None
    misdated: Invoice | None
    unpaid_in_books: Invoice | None
    renumbered: Invoice | None
    deleted: Invoice | None
    customer_credit: Invoice | None
    refunded: Invoice | None
    overpaid: Invoice | None
    written_off_open: Invoice | None
    paid_outside_stripe: Invoice | None


def _picks(tenant: Tenant, seed: int, finalized: list[Invoice], now: int) -> Picks:
    """The invoices each difference applies to. Slots are decided when an invoice is finalized and the
    difference takes effect when its occasion comes (a payment, a credit), so nothing already in the
    books changes later; the two picks among invoices Stripe gave up on go to the first ones to be
    given up on, for the same reason."""
    ordered = sorted((invoice.finalized_at or 0, invoice.id, invoice) for invoice in finalized)
    firsts: dict[str, Invoice] = {}
    for _, invoice_id, invoice in ordered:
        slot = SLOTS[stable_hash(seed, tenant.id, "books-slot", invoice_id) % len(SLOTS)]
        firsts.setdefault(slot, invoice)
    taken = {invoice.id for invoice in firsts.values()}
    uncollectible = [
        (at, i)
        for i in finalized
        if i.status_at(now) == "uncollectible" and (at := i.marked_uncollectible_at) is not None
    ]
    written_off_open = _first(uncollectible, taken)
    gave_up = [
        (at, i)
        for i in finalized
        if i.status_at(now) in ("uncollectible", "void")
        and (at := i.voided_at if i.status_at(now) == "void" else i.marked_uncollectible_at) is not None
    ]
    paid_outside = _first(gave_up, taken)
    pick = firsts.get
    return Picks(
        pick("missing"), pick("amount"), pick("date"), pick("unpaid"), pick("renumber"), pick("deleted"),
        pick("credit"), pick("refund"), pick("overpaid"), written_off_open, paid_outside,
    )  # fmt: skip


@dataclass(frozen=True)
class CreditNoteToMirror:
    """A credit a bookkeeper copies into the books as a credit memo / credit note."""

    key: str
    invoice: Invoice
    amount: int
    created: int
    outcome: CreditOutcome
    description: str
    stripe_credit_note_id: str | None


def credit_notes_to_mirror(history: History, picks: Picks, now: int) -> list[CreditNoteToMirror]:
    """The credits the books record against Stripe invoices — the seam for Stripe credit notes.

    Stripe credit notes do not exist in the simulated history yet, so for now this seeds two
    books-side credits (recorded as `credit_missing_in_stripe` discrepancies): a partial service
    credit left as customer credit, and a partial refund. Once `History` carries Stripe credit notes,
    this returns one `CreditNoteToMirror` per credit note seen by `now` instead (`outcome`: `applied`
    for a credit before payment, `refund` when refunded to the card, `customer_credit` when credited
    to the customer balance; `stripe_credit_note_id` set), the seeded ones go, and nothing else in the
    books or their renderers changes.
    """
    seeded = [
        ("credit", picks.customer_credit, 10, 7, "customer_credit", "Service credit: outage on"),
        ("refund", picks.refunded, 15, 5, "refund", "Partial refund: seats not used in"),
    ]
    mirrored = []
    for key, invoice, percent, days, outcome, description in seeded:
        if invoice is None or invoice.paid_at is None:
            continue
        created = invoice.paid_at + days * DAY
        if created > now:
            continue
        amount = max(1, invoice.amount_due * percent // 100)
        label = f"{description} {to_date(invoice.period_start):%B %Y}"
        mirrored.append(CreditNoteToMirror(key, invoice, amount, created, outcome, label, None))  # type: ignore[arg-type]
    return mirrored


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
    picks = _picks(tenant, seed, finalized, now)
    _Bookkeeper(books, history, tenant, seed, now, picks, book_customers, book_items).keep(finalized)
    return books


@dataclass
class _Bookkeeper:
    """Enters one tenant's invoices, payments, credits and receipts, mistakes included."""

    books: Books
    history: History
    tenant: Tenant
    seed: int
    now: int
    picks: Picks
    customers: dict[str, BookCustomer]
    items: dict[str, BookItem]
    # (created, key, build(number)) per document type, numbered once all are known.
    _invoices: list[tuple[int, str, Callable[[int], BookInvoice]]] = field(default_factory=list)
    _payments: list[tuple[int, str, Callable[[int], BookPayment]]] = field(default_factory=list)
    _entered: dict[str, BookInvoice] = field(default_factory=dict)
    """Invoices once numbered, by Stripe invoice id (or `books:<key>`)."""

    def discrepancy(self, *args: str | None) -> None:
        self.books.discrepancies.append(Discrepancy(*args))  # type: ignore[arg-type]

    def keep(self, finalized: list[Invoice]) -> None:
        picks, books, now = self.picks, self.books, self.now
        credits = self._credits(finalized)
        applied: dict[str, int] = defaultdict(int)
        for credit in credits:
            if credit.outcome == "applied":
                applied[credit.invoice.id] += credit.amount
        for invoice in finalized:
            if invoice is picks.missing:
                self.discrepancy("missing_invoice", invoice.id, str(invoice.amount_due), None)
                continue
            self._enter(invoice, applied.get(invoice.id, 0))
        self._books_only_invoices()
        numbers = _numbered([(created, key) for created, key, _ in self._invoices])
        self._entered = {key: build(numbers[key]) for _, key, build in self._invoices}
        books.invoices = sorted(self._entered.values(), key=lambda entry: entry.number)
        books.credits = self._number_credits(credits)
        self._receipts()
        numbers = _numbered([(created, key) for created, key, _ in self._payments])
        books.payments = sorted(
            (build(numbers[key]) for _, key, build in self._payments), key=lambda entry: entry.number
        )
        books.deposits = _deposits(self.history, now)
        books.journals = _fee_journals(self.history, books.home_currency, now)

    # --- invoices ---

    def _enter(self, invoice: Invoice, credited: int) -> None:
        picks, now = self.picks, self.now
        assert invoice.finalized_at is not None
        lines = _lines(invoice, self.items)
        if invoice is picks.mistyped:
            # A few cents typed wrong on the first line (never making it negative).
            cents = 1 + stable_hash(self.seed, self.tenant.id, "books", "cents", invoice.id) % 9
            delta = cents if lines[0].amount <= cents or stable_hash(invoice.id) % 2 else -cents
            first = lines[0]
            lines[0] = BookLine(first.description, first.amount + delta, first.item, first.quantity)
            self.discrepancy(
                "amount_mismatch",
                invoice.id,
                str(invoice.amount_due),
                str(sum(line.amount for line in lines)),
            )
        doc_number = invoice.number
        if invoice is picks.renumbered:
            doc_number = renumbered(invoice.number)
            self.discrepancy("renumbered_in_books", invoice.id, invoice.number, doc_number, doc_number)

        status: InvoiceStatus = "open"
        changes = [invoice.finalized_at]
        paid_at = seen(invoice.paid_at, now)
        deleted_at = None
        payment: tuple[int, date] | None = None
        if invoice is picks.paid_outside_stripe:
            # The customer paid by bank transfer; the bookkeeper recorded it, nobody told Stripe.
            gave_up = (
                invoice.voided_at if invoice.status_at(now) == "void" else invoice.marked_uncollectible_at
            )
            assert gave_up is not None
            payment = (gave_up, to_date(gave_up) - timedelta(days=2))
            self.discrepancy("payment_missing_in_stripe", invoice.id, invoice.status_at(now), "paid")
        elif invoice is picks.deleted:
            # Taken for a duplicate from the start (its payment is never recorded) and deleted.
            deleted_at = seen(invoice.finalized_at + DELETED_AFTER, now)
            if deleted_at is not None:
                self.discrepancy("deleted_in_books", invoice.id, invoice.status_at(now), "deleted")
        elif paid_at is not None and invoice is picks.unpaid_in_books:
            self.discrepancy("payment_missing_in_books", invoice.id, "paid", "open")
        elif paid_at is not None:
            paid_on = to_date(paid_at)
            if invoice is picks.misdated:
                days = 2 + stable_hash(self.seed, self.tenant.id, "books", "days", invoice.id) % 3
                recorded = paid_on + timedelta(days=days)
                self.discrepancy(
                    "payment_date_mismatch", invoice.id, paid_on.isoformat(), recorded.isoformat()
                )
                paid_on = recorded
            payment = (paid_at, paid_on)
        elif seen(invoice.voided_at, now) is not None and invoice.voided_at is not None:
            status = "voided"
            changes.append(invoice.voided_at)
        if invoice is picks.written_off_open:
            self.discrepancy("written_off_open_in_books", invoice.id, "uncollectible", "open")
        if payment is not None:
            status = "paid"
            changes.append(payment[0])
        if deleted_at is not None:
            changes.append(deleted_at)
        write_off = self._write_off_time(invoice)
        if write_off is not None:
            changes.append(write_off)
        customer = self.customers[invoice.customer.id]

        def build(number: int) -> BookInvoice:
            return BookInvoice(
                number=number,
                stripe_id=invoice.id,
                doc_number=doc_number,
                customer=customer,
                currency=invoice.currency.upper(),
                issued=invoice.finalized_at or 0,
                lines=tuple(lines),
                status=status,
                created=invoice.finalized_at or 0,
                updated=max(changes),
                credited=credited,
                deleted_at=deleted_at,
            )

        self._invoices.append((invoice.finalized_at, invoice.id, build))
        if payment is not None:
            created, paid_on = payment
            self._payment(
                created, f"payment:{invoice.id}", customer, "invoice", paid_on, invoice_key=invoice.id
            )

    def _books_only_invoices(self) -> None:
        """An invoice issued in the books only (services sold outside Stripe), and a draft deleted."""
        issued = day_start(BOOKS_ONLY_INVOICE_DAY) + 10 * HOUR
        known = [c for c in self.customers.values() if c.created < issued]
        if not known:
            return
        customer = min(known, key=lambda c: (c.created, c.stripe_id))
        self._books_only(
            "manual", customer, issued, "1001", "Onboarding and data migration services", 125_000
        )
        drafted = day_start(BOOKS_ONLY_DRAFT_DAY) + 11 * HOUR
        self._books_only(
            "draft",
            customer,
            drafted,
            "1002",
            "Annual plan quote (draft)",
            480_000,
            deleted=drafted + 3 * DAY,
        )

    def _books_only(
        self,
        key: str,
        customer: BookCustomer,
        created: int,
        doc_number: str,
        description: str,
        amount: int,
        deleted: int | None = None,
    ) -> None:
        if created > self.now:
            return
        draft = deleted is not None
        if not draft:
            self.discrepancy("invoice_missing_in_stripe", None, None, str(amount), doc_number)
        deleted_at = seen(deleted, self.now)
        invoice = BookInvoice(
            number=0,
            stripe_id=None,
            doc_number=doc_number,
            customer=customer,
            currency=customer.currency,
            issued=created,
            lines=(BookLine(description, amount, None, 1),),
            status="open",
            created=created,
            updated=deleted_at or created,
            draft=draft,
            deleted_at=deleted_at,
        )
        self._invoices.append((created, f"books:{key}", lambda number: replace(invoice, number=number)))

    # --- credits ---

    def _write_off_time(self, invoice: Invoice) -> int | None:
        if invoice.status_at(self.now) != "uncollectible" or invoice in (
            self.picks.written_off_open,
            self.picks.paid_outside_stripe,
            self.picks.missing,
            self.picks.deleted,
        ):
            return None
        assert invoice.marked_uncollectible_at is not None
        return seen(invoice.marked_uncollectible_at + WRITE_OFF_DELAY, self.now)

    def _credits(self, finalized: list[Invoice]) -> list[CreditNoteToMirror]:
        credits = []
        for mirrored in credit_notes_to_mirror(self.history, self.picks, self.now):
            credits.append(mirrored)
            if mirrored.stripe_credit_note_id is None:
                self.discrepancy(
                    "credit_missing_in_stripe", mirrored.invoice.id, "0", str(mirrored.amount), None
                )
        for invoice in finalized:
            at = self._write_off_time(invoice)
            if at is not None:
                credits.append(
                    CreditNoteToMirror(
                        f"write-off:{invoice.id}", invoice, invoice.amount_due, at, "applied",
                        f"Bad debt write-off of invoice {invoice.number}", None,
                    )
                )  # fmt: skip
        return credits

    def _number_credits(self, credits: list[CreditNoteToMirror]) -> list[BookCredit]:
        numbered = []
        for refunds in (False, True):
            group = [c for c in credits if (c.outcome == "refund") == refunds]
            numbers = _numbered([(c.created, c.key) for c in group])
            for credit in group:
                number = numbers[credit.key]
                invoice = self._entered.get(credit.invoice.id)
                customer = self.customers[credit.invoice.customer.id]
                booked = BookCredit(
                    number=number,
                    doc_number=f"{'RF' if refunds else 'CN'}-{number:04d}",
                    customer=customer,
                    invoice=invoice,
                    currency=credit.invoice.currency.upper(),
                    amount=credit.amount,
                    description=credit.description,
                    account="bad_debt" if credit.key.startswith("write-off:") else "income",
                    outcome=credit.outcome,
                    issued=to_date(credit.created),
                    created=credit.created,
                    stripe_credit_note_id=credit.stripe_credit_note_id,
                )
                numbered.append(booked)
                if credit.outcome == "applied":
                    self._payment(
                        credit.created, f"credit:{credit.key}", customer, "credit_application",
                        booked.issued, invoice_key=credit.invoice.id, credit=booked,
                    )  # fmt: skip
        return sorted(numbered, key=lambda c: (c.outcome == "refund", c.number))

    # --- payments and receipts ---

    def _payment(
        self,
        created: int,
        key: str,
        customer: BookCustomer,
        kind: PaymentKind,
        paid_on: date,
        *,
        invoice_key: str | None = None,
        credit: BookCredit | None = None,
        amount: int | None = None,
        currency: str | None = None,
    ) -> None:
        self._payments.append((created, key, lambda number: self._build_payment(
            number, customer, kind, paid_on, created, invoice_key, credit, amount, currency)))  # fmt: skip

    def _build_payment(
        self,
        number: int,
        customer: BookCustomer,
        kind: PaymentKind,
        paid_on: date,
        created: int,
        invoice_key: str | None,
        credit: BookCredit | None,
        amount: int | None,
        currency: str | None,
    ) -> BookPayment:
        invoice = self._entered.get(invoice_key) if invoice_key else None
        if amount is None:
            assert invoice is not None
            amount = 0 if kind == "credit_application" else invoice.total - invoice.credited
        currency = currency or (invoice.currency if invoice is not None else customer.currency)
        return BookPayment(number, customer, amount, paid_on, created, kind, invoice, credit, currency)

    def _receipts(self) -> None:
        """Money in that no invoice explains: a customer who paid an invoice twice (card and wire),
        and one who wired an advance for services not invoiced yet."""
        overpaid = self.picks.overpaid
        if overpaid is not None and overpaid.paid_at is not None and overpaid.id in self._entered:
            created = overpaid.paid_at + 2 * DAY
            if created <= self.now:
                invoice = self._entered[overpaid.id]
                self._payment(
                    created, f"overpayment:{overpaid.id}", invoice.customer, "overpayment", to_date(created),
                    amount=invoice.total, currency=invoice.currency,
                )  # fmt: skip
        created = day_start(PREPAYMENT_DAY) + 14 * HOUR
        known = [c for c in self.customers.values() if c.created < created]
        if created <= self.now and known:
            customer = max(known, key=lambda c: (c.created, c.stripe_id))
            self._payment(
                created, "prepayment", customer, "prepayment", to_date(created),
                amount=240_000, currency=customer.currency,
            )  # fmt: skip


def _lines(invoice: Invoice, items: dict[str, BookItem]) -> list[BookLine]:
    lines = [
        BookLine(line.description, line.amount, items.get(line.price.product.id), line.quantity)
        for line in invoice.lines
    ]
    # Discounts and tax charged on top, each as one line, so the books' invoice totals Stripe's.
    if invoice.discount_total:
        lines.append(BookLine("Discount", -invoice.discount_total, None, 1))
    exclusive = invoice.total - invoice.subtotal + invoice.discount_total
    if exclusive:
        lines.append(BookLine("Sales tax", exclusive, None, 1))
    if invoice.starting_balance:
        # Customer credit Stripe applied to this invoice: the books show it as a negative line.
        lines.append(BookLine("Applied customer credit", invoice.starting_balance, None, 1))
    return lines


def _deposits(history: History, now: int) -> list[BookDeposit]:
    paid_payouts = [
        payout for payout in history.payouts if seen(payout.paid_at, now) is not None and payout.amount > 0
    ]
    deposits = []
    for number, payout in enumerate(sorted(paid_payouts, key=lambda p: (p.paid_at or 0, p.id)), start=1):
        assert payout.paid_at is not None
        deposits.append(
            BookDeposit(
                number,
                payout.id,
                payout.currency.upper(),
                payout.amount,
                to_date(payout.arrival_date),
                payout.paid_at,
            )
        )
    return deposits


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
