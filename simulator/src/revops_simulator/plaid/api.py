"""Plaid's API (Items, accounts, balances, `/transactions/sync`) over the simulated banks.

Every endpoint is a POST with a JSON body carrying `client_id`, `secret` (or the `PLAID-CLIENT-ID` /
`PLAID-SECRET` headers the official clients send) and `access_token`. Errors carry Plaid's body, so
`plaid-python` raises the same `ApiException` it would against Plaid.

Sync cursors are opaque to clients; here they name the bank instant the client has seen up to
(`seen`), and, mid-pagination, the instant the update goes to (`until`) and how far it has been
served (`offset`). An update is the difference between the bank at `seen` and at `until`, so a
cursor never goes stale, and a world that moved between two pages is detected, as Plaid does.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from revops_simulator.business.bank import Bank
from revops_simulator.faults import Faults
from revops_simulator.provider import ApiRequest, ApiResponse, Caller

MAX_SYNC_COUNT = 500
DEFAULT_SYNC_COUNT = 100
ROUTES = frozenset({"/item/get", "/accounts/get", "/accounts/balance/get", "/transactions/sync"})
LOGIN_REQUIRED = (
    400,
    "ITEM_ERROR",
    "ITEM_LOGIN_REQUIRED",
    "the login details of this item have changed (credentials, MFA, or required user action) and a user "
    "login is required to update this information. use Link's update mode to restore the item to a good "
    "state",
)
"""Plaid's error for an Item whose bank login needs the user (https://plaid.com/docs/errors/item/)."""


class Banks(Protocol):
    """Where the API finds the bank an access token opens (the world, at its current clock)."""

    def bank(self, workspace_id: str) -> Bank: ...

    def workspace_for_plaid_token(self, access_token: str) -> str | None: ...

    @property
    def plaid_credentials(self) -> tuple[str, str]:
        """(client_id, secret) the API accepts."""
        ...


class PlaidError(Exception):
    def __init__(self, status: int, error_type: str, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.error_code = status, error_type, error_code


@dataclass(frozen=True)
class Cursor:
    seen: int | None
    """Bank instant already synced; None: nothing yet (the empty cursor)."""
    until: int | None = None
    """Mid-pagination: the instant this update goes to."""
    offset: int = 0

    def encode(self) -> str:
        text = json.dumps([self.seen, self.until, self.offset], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def decode(cls, value: str) -> Cursor:
        if value == "":
            return cls(None)
        try:
            seen, until, offset = json.loads(base64.urlsafe_b64decode(value.encode()))
            if not all(v is None or isinstance(v, int) for v in (seen, until)) or not isinstance(offset, int):
                raise ValueError(value)
        except (ValueError, binascii.Error, TypeError) as exc:
            raise PlaidError(400, "INVALID_INPUT", "INVALID_FIELD", "cursor is not valid") from exc
        return cls(seen, until, offset)


class PlaidApi:
    prefix = "/plaid"

    def __init__(self, banks: Banks) -> None:
        self.banks = banks
        self._request_numbers = itertools.count(1)
        self._guard = threading.Lock()
        self._mutation_faults: tuple[Faults, int] | None = None
        """(the fault plan, mutation errors it has left to inject): a new plan starts a new count."""

    # --- Provider protocol ---

    def route(self, request: ApiRequest) -> str:
        return f"{request.method} {request.path if request.path in ROUTES else 'unrecognized'}"

    def authenticate(self, request: ApiRequest) -> Caller | ApiResponse:
        try:
            body = self._body(request)
            client_id = body.get("client_id") or request.headers.get("plaid-client-id")
            secret = body.get("secret") or request.headers.get("plaid-secret")
            if (client_id, secret) != self.banks.plaid_credentials:
                raise PlaidError(
                    400,
                    "INVALID_INPUT",
                    "INVALID_API_KEYS",
                    "invalid client_id or secret provided",
                )
            token = body.get("access_token")
            workspace_id = self.banks.workspace_for_plaid_token(token) if isinstance(token, str) else None
            if workspace_id is None:
                raise PlaidError(
                    400,
                    "INVALID_INPUT",
                    "INVALID_ACCESS_TOKEN",
                    "provided access token is in an invalid format",
                )
        except PlaidError as error:
            return self._error(error)
        # Plaid limits per Item: the access token is what requests are counted against.
        return Caller(workspace_id, token)

    def handle(self, request: ApiRequest, caller: Caller, faults: Faults) -> ApiResponse:
        bank = self.banks.bank(caller.workspace_id)
        try:
            if request.method != "POST" or request.path not in ROUTES:
                raise PlaidError(404, "INVALID_REQUEST", "UNKNOWN_ROUTE", f"unknown route {request.path}")
            body = self._body(request)
            login_required = caller.workspace_id in faults.plaid_login_required
            if request.path == "/item/get":
                item = bank.render_item()
                if login_required:
                    item["error"] = self._error_body(PlaidError(*LOGIN_REQUIRED), self._request_id())
                payload, served = {"item": item, "status": None}, ("items", 1)
            elif login_required:
                raise PlaidError(*LOGIN_REQUIRED)
            elif request.path in ("/accounts/get", "/accounts/balance/get"):
                accounts = bank.render_accounts(bank.now)
                payload, served = (
                    {"accounts": accounts, "item": bank.render_item()},
                    ("accounts", len(accounts)),
                )
            else:
                payload, served = self._sync(bank, body, faults)
        except PlaidError as error:
            return self._error(error)
        return ApiResponse(200, {**payload, "request_id": self._request_id()}, {}, served)

    def rate_limited(self, retry_after: float) -> ApiResponse:
        # Plaid sends no Retry-After: clients back off on their own.
        return self._error(
            PlaidError(
                429,
                "RATE_LIMIT_EXCEEDED",
                "TRANSACTIONS_SYNC_LIMIT",
                "rate limit exceeded for attempts to access this item. please try again later",
            )
        )

    def server_error(self, status: int) -> ApiResponse:
        return self._error(
            PlaidError(status, "API_ERROR", "INTERNAL_SERVER_ERROR", "an unexpected error occurred")
        )

    # --- requests ---

    def _request_id(self) -> str:
        return f"sim{next(self._request_numbers):012d}"

    def _error(self, error: PlaidError) -> ApiResponse:
        return ApiResponse(error.status, self._error_body(error, self._request_id()))

    @staticmethod
    def _error_body(error: PlaidError, request_id: str) -> dict[str, Any]:
        return {
            "error_type": error.error_type,
            "error_code": error.error_code,
            "error_message": str(error),
            "display_message": None,
            "request_id": request_id,
            "causes": [],
            "status": error.status,
            "documentation_url": f"https://plaid.com/docs/errors/#{error.error_code.lower()}",
            "suggested_action": None,
        }

    @staticmethod
    def _body(request: ApiRequest) -> Mapping[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlaidError(
                400, "INVALID_REQUEST", "INVALID_BODY", "body could not be parsed as JSON"
            ) from exc
        if not isinstance(body, dict):
            raise PlaidError(400, "INVALID_REQUEST", "INVALID_BODY", "body must be a JSON object")
        return body

    def _inject_mutation(self, faults: Faults) -> bool:
        """Whether this mid-pagination call is one the fault plan makes fail."""
        with self._guard:
            if self._mutation_faults is None or self._mutation_faults[0] is not faults:
                self._mutation_faults = (faults, faults.plaid_mutation_during_pagination)
            left = self._mutation_faults[1]
            if left <= 0:
                return False
            self._mutation_faults = (faults, left - 1)
            return True

    def _sync(
        self, bank: Bank, body: Mapping[str, Any], faults: Faults
    ) -> tuple[dict[str, Any], tuple[str, int]]:
        count = body.get("count", DEFAULT_SYNC_COUNT)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_SYNC_COUNT:
            raise PlaidError(
                400, "INVALID_REQUEST", "INVALID_FIELD", f"count must be between 1 and {MAX_SYNC_COUNT}"
            )
        raw_cursor = body.get("cursor") or ""
        if not isinstance(raw_cursor, str):
            raise PlaidError(400, "INVALID_REQUEST", "INVALID_FIELD", "cursor must be a string")
        cursor = Cursor.decode(raw_cursor)
        now = bank.now
        if cursor.until is not None and (cursor.until != now or self._inject_mutation(faults)):
            raise PlaidError(
                400,
                "TRANSACTIONS_ERROR",
                "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION",
                "Underlying transaction data changed since last page was fetched. Please restart pagination "
                "from last update.",
            )
        if cursor.seen is not None and cursor.seen > now:
            raise PlaidError(400, "INVALID_REQUEST", "INVALID_FIELD", "cursor is from the future")
        changes = self._changes(bank, cursor.seen, now)
        page = changes[cursor.offset : cursor.offset + count]
        has_more = cursor.offset + count < len(changes)
        next_cursor = Cursor(cursor.seen, now, cursor.offset + count) if has_more else Cursor(now)
        grouped: dict[str, list[dict[str, Any]]] = {"added": [], "modified": [], "removed": []}
        for kind, entry in page:
            grouped[kind].append(entry)
        payload = {
            **grouped,
            "accounts": bank.render_accounts(now),
            "has_more": has_more,
            "next_cursor": next_cursor.encode(),
            "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE",
        }
        return payload, ("transactions", len(page))

    @staticmethod
    def _changes(bank: Bank, seen: int | None, until: int) -> list[tuple[str, dict[str, Any]]]:
        """The update from the bank at `seen` to the bank at `until`, in a stable order."""
        before = (
            {txn.transaction_id: bank.render_transaction(txn, seen) for txn in bank.visible(seen)}
            if seen is not None
            else {}
        )
        changes: list[tuple[str, dict[str, Any]]] = []
        after_ids = set()
        for txn in bank.visible(until):
            after_ids.add(txn.transaction_id)
            rendered = bank.render_transaction(txn, until)
            previous = before.get(txn.transaction_id)
            if previous is None:
                changes.append(("added", rendered))
            elif previous != rendered:
                changes.append(("modified", rendered))
        changes += [
            ("removed", {"transaction_id": txn_id, "account_id": rendered["account_id"]})
            for txn_id, rendered in before.items()
            if txn_id not in after_ids
        ]
        return changes
