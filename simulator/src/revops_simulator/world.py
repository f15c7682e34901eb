"""The simulated world: its clock, its tenants (workspaces) and the ground truth of their accounts.

A world is a pure function of (seed, as_of, scale, actions). Advancing the clock regenerates the
history to the new date off to the side and swaps it in atomically, so a server keeps answering (from
the old state) while the world moves, and an advanced world equals one built at the later date.
Recording an action (a payment retry, a delivered dunning email; simulator/actions.py) regenerates the
history of its workspace with it the same way.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from revops_simulator.actions import Action, ActionLog
from revops_simulator.business.bank import Bank, DepositDiscrepancy
from revops_simulator.business.books import ACCOUNTING_SYSTEMS, Books, Discrepancy, keep_books
from revops_simulator.business.clock import day_end, to_datetime
from revops_simulator.business.entities import History, Invoice
from revops_simulator.business.seeding import base62, stable_hash
from revops_simulator.business.simulation import simulate
from revops_simulator.business.tenants import TENANTS, Tenant
from revops_simulator.business.usage import UsageVolume
from revops_simulator.faults import Faults
from revops_simulator.oauth import OAuthClient, oauth_client
from revops_simulator.quickbooks.api import render_books as render_quickbooks
from revops_simulator.recovery import EpisodeTruth, recovery_episodes
from revops_simulator.stripe.account import RESOURCES, StripeAccount
from revops_simulator.usage.log import UsageLog
from revops_simulator.xero.api import render_books as render_xero


@dataclass(frozen=True)
class SimWorkspace:
    id: str
    name: str
    stripe_api_key: str
    settlement_currency: str
    currencies: tuple[str, ...]
    """Currencies it sells in, main one first."""
    country: str
    plaid_client_id: str = ""
    plaid_secret: str = ""
    plaid_access_token: str = ""
    """Plaid credentials: the client's (one per world, as one revops install is one Plaid customer) and
    the access token of the workspace's one Item."""
    accounting: OAuthClient | None = None
    """Its accounting system (`provider`: quickbooks or xero), company id and OAuth2 app credentials."""
    usage_api_key: str = ""
    """Bearer token of its product-usage event feed (simulator/usage)."""


@dataclass(frozen=True)
class BankTruth:
    """The workspace's bank (one Plaid Item) at the clock; amounts in minor units, Plaid's sign."""

    item: dict[str, Any]
    accounts: list[dict[str, Any]]
    """As `/accounts/get` serves them (balances in major units)."""
    balances: dict[str, tuple[int, int]]
    """Account id → (current, available) in minor units, money in positive."""
    transactions: list[dict[str, Any]]
    """Every transaction shown at the clock, pending ones included, as `/transactions/sync` serves them."""
    removed_transaction_ids: set[str]
    """Transactions shown at some earlier instant and no longer (posted or released pending ones, and
    a duplicate posting the bank removed)."""
    payout_deposits: dict[str, str]
    """Stripe payout id → transaction id of its one deposit, for the payout's amount."""
    unmatched_deposits: list[str]
    """Transaction ids of money in on the operating account that no payout explains."""
    missing_payouts: list[str]
    """Paid payouts that were due at the bank by the clock and never arrived."""
    discrepancies: list[DepositDiscrepancy] = field(default_factory=list)
    """Payouts whose deposit differs from one deposit for the payout's amount (a fee taken off, split
    over two deposits, batched with another payout) and posted transactions the bank removed."""


@dataclass(frozen=True)
class BooksTruth:
    """The workspace's accounting books at the clock, as its accounting system serves them."""

    provider: str
    """`quickbooks` (entities keyed Customer, Invoice …) or `xero` (endpoints keyed Contacts, Invoices …)."""
    company_id: str
    objects: dict[str, list[dict[str, Any]]]
    """Every live entity as served by a query or list, money as `Decimal`."""
    discrepancies: list[Discrepancy]
    """Where the books differ from Stripe on purpose: mistakes and books-only activity."""
    deleted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """QuickBooks: per entity, the tombstones CDC reports for entities deleted by the clock (a pipeline
    sees them only if it loaded the entity before its deletion). Xero keeps deleted and voided records
    in its lists (`Status`), so this is empty for Xero."""


@dataclass(frozen=True)
class GroundTruth:
    """What a perfect pipeline would have loaded for one workspace at the world's clock.

    `objects` are exactly what the API serves (newest first), unaffected by faults; `malformed_ids`
    are the objects the world's current faults serve corrupted, which a pipeline should reject.
    """

    workspace_id: str
    now: datetime
    balance: dict[str, dict[str, int]]
    objects: dict[str, list[dict[str, Any]]]
    malformed_ids: dict[str, set[str]] = field(default_factory=dict)
    payout_contents: dict[str, set[str]] = field(default_factory=dict)
    """Automatic payout id → the balance transactions it paid out (its own included), from the
    business history: what `/v1/balance_transactions?payout=` must list."""
    deleted_ids: dict[str, set[str]] = field(default_factory=dict)
    """Objects deleted by the clock (lists omit them; retrieve answers Stripe's deleted stub)."""
    archived_ids: dict[str, set[str]] = field(default_factory=dict)
    """Products and prices archived by the clock (`active: false`; lists and retrieve still serve them)."""
    lifecycle: dict[str, set[str]] = field(default_factory=dict)
    """Ids showing each lifecycle behaviour (business/lifecycle.py), e.g. `detached_payment_methods`."""
    bank: BankTruth | None = None
    books: BooksTruth | None = None


@dataclass(frozen=True)
class _State:
    as_of: date
    now: int
    accounts: dict[str, StripeAccount]
    banks: dict[str, Bank] = field(default_factory=dict)
    books: dict[str, Books] = field(default_factory=dict)
    histories: dict[str, History] = field(default_factory=dict)
    usage: dict[str, UsageLog] = field(default_factory=dict)
    """Built on first use (most callers never look at usage): workspace id → its usage log."""


def clock_of(as_of: date) -> int:
    """The simulation clock for `as_of`: the end of a day, or a given instant (a naive datetime is UTC)."""
    if isinstance(as_of, datetime):
        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        return int(moment.timestamp())
    return day_end(as_of)


class World:
    """The two tenants' businesses as seen at the end of `as_of` (or at `as_of`, a datetime); a pure
    function of (seed, as_of, scale, actions)."""

    def __init__(self, seed: int, as_of: date, scale: float = 1.0, actions: ActionLog | None = None) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        self.seed = seed
        self.scale = scale
        self.workspaces = [self._workspace(tenant) for tenant in TENANTS]
        self._tenants = {tenant.id: tenant for tenant in TENANTS}
        self._by_key = {workspace.stripe_api_key: workspace.id for workspace in self.workspaces}
        self._by_plaid_token = {workspace.plaid_access_token: workspace.id for workspace in self.workspaces}
        self.faults = Faults()
        """The faults of the server serving this world (it sets them); what `ground_truth` reports against."""
        self.actions = actions if actions is not None else ActionLog()
        """What merchants and customers' mailboxes did; persisted when the log has a path."""
        self._advancing = threading.Lock()
        self._usage_building = threading.Lock()
        self._state = self._build(as_of)

    def _workspace(self, tenant: Tenant) -> SimWorkspace:
        key = "sk_test_" + base62(stable_hash(self.seed, tenant.id, "stripe-secret-key", bits=200), 32)
        return SimWorkspace(
            id=tenant.id,
            name=tenant.name,
            stripe_api_key=key,
            plaid_client_id=f"{stable_hash(self.seed, 'plaid-client-id', bits=96):024x}",
            plaid_secret=f"{stable_hash(self.seed, 'plaid-secret', bits=120):030x}",
            plaid_access_token="access-production-"
            + "-".join(
                f"{stable_hash(self.seed, tenant.id, 'plaid-access-token', part):016x}"[:width]
                for part, width in enumerate((8, 4, 4, 4, 12))
            ),
            accounting=(
                oauth_client(self.seed, tenant.id, ACCOUNTING_SYSTEMS[tenant.id])
                if tenant.id in ACCOUNTING_SYSTEMS
                else None
            ),
            settlement_currency=tenant.settlement_currency,
            currencies=tuple(tenant.currency_mix),
            country=tenant.country,
            usage_api_key="usg_" + base62(stable_hash(self.seed, tenant.id, "usage-api-key", bits=200), 32),
        )

    def _build(self, as_of: date, only: str | None = None) -> _State:
        """The state at `as_of`; with `only`, that workspace regenerated and the others kept as they are."""
        now = clock_of(as_of)
        tenants = [tenant for tenant in self._tenants.values() if only is None or tenant.id == only]
        histories = {
            tenant.id: simulate(tenant, self.seed, self.scale, now, self.actions.by_invoice(tenant.id, now))
            for tenant in tenants
        }
        accounts = {
            tenant.id: StripeAccount(histories[tenant.id], tenant, self.seed, now) for tenant in tenants
        }
        # The bank sees the same history: every payout that arrives is a deposit there.
        banks = {
            tenant.id: Bank.build(tenant, self.seed, self.scale, histories[tenant.id], now)
            for tenant in tenants
        }
        books = {tenant.id: keep_books(histories[tenant.id], tenant, self.seed, now) for tenant in tenants}
        if only is not None:
            kept = self._state
            histories = {**kept.histories, **histories}
            accounts, banks, books = (
                {**kept.accounts, **accounts},
                {**kept.banks, **banks},
                {**kept.books, **books},
            )
        return _State(to_datetime(now).date(), now, accounts, banks, books, histories)

    @property
    def as_of(self) -> date:
        return self._state.as_of

    @property
    def now(self) -> datetime:
        """The clock: the last second (UTC) of the `as_of` day."""
        return to_datetime(self._state.now)

    def advance_to(self, as_of: date) -> None:
        """Move the clock forward to the end of `as_of` (or to `as_of`, a datetime); safe while a server
        is answering requests."""
        with self._advancing:
            now = clock_of(as_of)
            if now < self._state.now:
                raise ValueError(f"the clock only moves forward: {as_of} is before {self.now}")
            if now != self._state.now:
                self._state = self._build(as_of)

    def record(self, action: Action) -> None:
        """Log `action` and regenerate its workspace's history with it, at the same clock."""
        if action.workspace_id not in self._tenants:
            raise ValueError(f"unknown workspace {action.workspace_id!r}")
        with self._advancing:
            if action.at > self._state.now:
                raise ValueError(f"action at {action.at} is after the clock ({self._state.now})")
            self.actions.append(action)
            self._state = self._build(to_datetime(self._state.now), only=action.workspace_id)

    def find_invoice(self, invoice_id: str) -> tuple[str, Invoice] | None:
        """(workspace id, invoice) for an invoice that exists at the clock, in any workspace."""
        for workspace_id, account in self._state.accounts.items():
            invoice = account.find("invoices", invoice_id)
            if isinstance(invoice, Invoice):
                return workspace_id, invoice
        return None

    def recovery_truth(self, workspace_id: str) -> list[EpisodeTruth]:
        """Every invoice whose payment failed by the clock, how it was recovered or lost (the recovery
        marts' ground truth)."""
        state = self._state
        return recovery_episodes(
            state.histories[workspace_id], self.actions.actions(workspace_id, state.now), state.now
        )

    def stripe_account(self, workspace_id: str) -> StripeAccount:
        return self._state.accounts[workspace_id]

    def usage_log(self, workspace_id: str) -> UsageLog:
        """The workspace's usage events and their deliveries at the clock (its ground truth too)."""
        state = self._state
        with self._usage_building:
            if workspace_id not in state.usage:
                state.usage[workspace_id] = UsageLog(
                    workspace_id, self.seed, state.histories[workspace_id], state.now, UsageVolume()
                )
            return state.usage[workspace_id]

    def workspace_for_usage_key(self, api_key: str) -> str | None:
        return next((ws.id for ws in self.workspaces if ws.usage_api_key == api_key), None)

    def workspace_for_stripe_key(self, api_key: str) -> str | None:
        return self._by_key.get(api_key)

    def bank(self, workspace_id: str) -> Bank:
        return self._state.banks[workspace_id]

    def workspace_for_plaid_token(self, access_token: str) -> str | None:
        return self._by_plaid_token.get(access_token)

    @property
    def plaid_credentials(self) -> tuple[str, str]:
        """(client_id, secret): one Plaid client for the whole world, like one revops install."""
        return self.workspaces[0].plaid_client_id, self.workspaces[0].plaid_secret

    def bank_truth(self, workspace_id: str) -> BankTruth:
        """The workspace's bank at the clock (also `ground_truth(workspace_id).bank`)."""
        bank, now = self._state.banks[workspace_id], self._state.now
        shown = {txn.transaction_id for txn in bank.visible(now)}
        return BankTruth(
            item=bank.render_item(),
            accounts=bank.render_accounts(now),
            balances=bank.balances(now),
            transactions=[bank.render_transaction(txn, now) for txn in bank.visible(now)],
            removed_transaction_ids={txn.transaction_id for txn in bank.transactions} - shown,
            payout_deposits=dict(bank.payout_deposits),
            unmatched_deposits=bank.unmatched_deposits(now),
            missing_payouts=list(bank.missing_payouts),
            discrepancies=list(bank.discrepancies),
        )

    def books(self, workspace_id: str) -> Books:
        return self._state.books[workspace_id]

    def accounting_clients(self, provider: str) -> dict[str, OAuthClient]:
        """Workspace id → OAuth2 client, for the workspaces keeping their books at `provider`."""
        return {
            workspace.id: workspace.accounting
            for workspace in self.workspaces
            if workspace.accounting is not None and workspace.accounting.provider == provider
        }

    def books_truth(self, workspace_id: str) -> BooksTruth | None:
        """The workspace's books at the clock (also `ground_truth(workspace_id).books`)."""
        connection = next(ws.accounting for ws in self.workspaces if ws.id == workspace_id)
        if connection is None:
            return None
        books = self._state.books[workspace_id]
        deleted: dict[str, list[dict[str, Any]]] = {}
        if connection.provider == "quickbooks":
            rendered = render_quickbooks(books)
            objects, deleted = rendered.live, rendered.deleted
        else:
            objects = render_xero(books, connection.company_id)
        return BooksTruth(
            connection.provider, connection.company_id, objects, list(books.discrepancies), deleted
        )

    def ground_truth(self, workspace_id: str, faults: Faults | None = None) -> GroundTruth:
        """The workspace's true state at the clock; malformed ids per `faults` (default: the server's)."""
        state = self._state
        account = state.accounts[workspace_id]
        faults = self.faults if faults is None else faults
        objects = {
            resource: [account.render(item) for item in account.listings[resource].items]
            for resource in RESOURCES
        }
        return GroundTruth(
            bank=self.bank_truth(workspace_id),
            books=self.books_truth(workspace_id),
            workspace_id=workspace_id,
            now=to_datetime(state.now),
            balance={self._tenants[workspace_id].settlement_currency: account.balance()},
            # A private copy: the renders are shared with the API's cache.
            objects=json.loads(json.dumps(objects)),
            deleted_ids={
                "customers": set(account.gone["customers"]),
                "coupons": set(account.deleted["coupons"]),
                "invoices": set(account.deleted["invoices"]),
            },
            archived_ids=account.archived(),
            lifecycle=account.lifecycle(),
            malformed_ids={
                resource: set(account.malformed_ids(faults.seed, resource, count))
                for resource, count in faults.malformed.items()
                if count > 0
            },
            payout_contents=self._payout_contents(workspace_id),
        )

    def _payout_contents(self, workspace_id: str) -> dict[str, set[str]]:
        now = self._state.now
        contents: dict[str, set[str]] = {}
        for transaction in self._state.histories[workspace_id].balance_transactions:
            if (
                transaction.payout is not None
                and transaction.created <= now
                and transaction.payout.created <= now
            ):
                contents.setdefault(transaction.payout.id, set()).add(transaction.id)
        return contents
