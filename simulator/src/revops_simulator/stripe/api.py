"""Stripe's REST API over the simulated accounts, with Stripe's semantics.

Lists are newest first with cursor pagination, `created` ranges, equality filters and `expand[]`;
errors carry Stripe's bodies, so the real SDK raises the same exceptions it would against Stripe.
The write side is what dunning needs: `POST /v1/invoices/{id}/pay` and `/mark_uncollectible`, with
Stripe's idempotency keys (the same key and parameters replay the first response; the same key with
other parameters is an `idempotency_error`). Each accepted write is an action the world records
(simulator/actions.py) and regenerates its history with.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

from revops_simulator.actions import Action, ActionKind, ActionLog, IdempotentResult
from revops_simulator.business.entities import Invoice
from revops_simulator.business.seeding import make_id
from revops_simulator.faults import Faults, corrupt
from revops_simulator.provider import ApiRequest, ApiResponse, Caller
from revops_simulator.stripe.account import (
    FILTERS,
    EventRecord,
    Item,
    Listing,
    ListingError,
    StripeAccount,
    event_type_filter,
    resource_of,
)
from revops_simulator.stripe.render import API_VERSION, JSON

MAX_LIMIT = 100
DEFAULT_LIMIT = 10

# Resources served at /v1/<resource> and /v1/<resource>/<id>, with their object names for messages.
OBJECT_NAMES: Mapping[str, str] = {
    "customers": "customer",
    "payment_methods": "payment_method",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "subscription_items": "subscription_item",
    "invoices": "invoice",
    "invoice_payments": "invoice_payment",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "refunds": "refund",
    "disputes": "dispute",
    "payouts": "payout",
    "balance_transactions": "balance_transaction",
    "tax_rates": "tax_rate",
    "coupons": "coupon",
    "promotion_codes": "promotion_code",
    "events": "event",
}
_ID_PREFIXES: Mapping[str, str] = {
    "cus": "customers",
    "pm": "payment_methods",
    "prod": "products",
    "price": "prices",
    "sub": "subscriptions",
    "si": "subscription_items",
    "in": "invoices",
    "il": "invoice_line_items",
    "inpay": "invoice_payments",
    "ch": "charges",
    "pi": "payment_intents",
    "re": "refunds",
    "dp": "disputes",
    "po": "payouts",
    "txn": "balance_transactions",
    "txr": "tax_rates",
    "promo": "promotion_codes",
    "di": "discounts",
    "evt": "events",
}
_PAGINATION = frozenset({"limit", "starting_after", "ending_before", "expand"})
_STATUS_FILTERS: Mapping[str, frozenset[str]] = {
    "subscriptions": frozenset(
        {
            "active",
            "past_due",
            "unpaid",
            "canceled",
            "incomplete",
            "incomplete_expired",
            "trialing",
            "paused",
            "all",
            "ended",
        }
    ),
    "invoices": frozenset({"draft", "open", "paid", "uncollectible", "void"}),
    "invoice_payments": frozenset({"canceled", "open", "paid"}),
    "payouts": frozenset({"canceled", "failed", "in_transit", "paid", "pending"}),
}
# Parameters with more than equality semantics: status defaults and groups, event type wildcards.
_SPECIAL_PARAMS: Mapping[str, set[str]] = {"subscriptions": {"status"}, "events": {"type", "types"}}
_RANGE_KEYS = frozenset({"gt", "gte", "lt", "lte"})
_BRACKETED = re.compile(r"([A-Za-z_]+)\[([A-Za-z_]*|\d*)\]")
_PATH = re.compile(r"/v1/([a-z_]+)(?:/([A-Za-z0-9_]+))?(?:/([a-z_]+))?")
# Invoice actions served at POST /v1/invoices/{id}/<action>, and the parameters each accepts.
_INVOICE_ACTIONS: Mapping[str, tuple[ActionKind, frozenset[str]]] = {
    "pay": ("invoice_pay", frozenset({"expand", "off_session"})),
    "mark_uncollectible": ("invoice_mark_uncollectible", frozenset({"expand"})),
}

Params = dict[str, Any]


class Accounts(Protocol):
    """Where the API finds the account an API key opens (the world, at its current clock)."""

    def stripe_account(self, workspace_id: str) -> StripeAccount: ...

    def workspace_for_stripe_key(self, api_key: str) -> str | None: ...

    @property
    def actions(self) -> ActionLog: ...

    def record(self, action: Action) -> None: ...


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"message": message, "type": error_type}
        if param is not None:
            self.body["param"] = param
        if code is not None:
            self.body["code"] = code
            self.body["doc_url"] = f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}"


class _CardError(StripeError):
    """A declined payment: HTTP 402 with Stripe's card_error body (decline code, charge, intent)."""

    def __init__(self, body: JSON) -> None:
        super().__init__(402, str(body.get("message", "Your card was declined.")), error_type="card_error")
        self.body = {**body, "type": "card_error"}


def parse_query(pairs: Sequence[tuple[str, str]]) -> Params:
    """Stripe's form encoding: `a[]=x`/`a[0]=x` are lists, `a[gte]=1` is a hash, anything else a string."""
    params: Params = {}
    for key, value in pairs:
        bracketed = _BRACKETED.fullmatch(key)
        if bracketed is None:
            params[key] = value
            continue
        name, inner = bracketed.groups()
        if inner == "" or inner.isdigit():
            existing = params.setdefault(name, [])
            if not isinstance(existing, list):
                raise StripeError(400, f"Invalid array: {name}", param=name)
            existing.append(value)
        else:
            existing = params.setdefault(name, {})
            if not isinstance(existing, dict):
                raise StripeError(400, f"Invalid hash: {name}", param=name)
            existing[inner] = value
    return params


def _integer(value: object, param: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise StripeError(400, f"Invalid integer: {value}", param=param)


def _string(value: object, param: str) -> str:
    if isinstance(value, str):
        return value
    raise StripeError(400, f"Invalid string: {value}", param=param)


def _created_filter(value: object) -> Callable[[Any], bool]:
    if isinstance(value, dict):
        bounds = {}
        for key, bound in value.items():
            if key not in _RANGE_KEYS:
                raise StripeError(400, f"Received unknown parameter: created[{key}]", param=f"created[{key}]")
            bounds[key] = _integer(bound, f"created[{key}]")
    else:
        bounds = {"gte": _integer(value, "created"), "lte": _integer(value, "created")}
    low = max(bounds.get("gte", -(2**63)), bounds.get("gt", -(2**63)) + 1)
    high = min(bounds.get("lte", 2**63), bounds.get("lt", 2**63) - 1)
    return lambda item: low <= item.created <= high


def _limit(params: Params) -> int:
    if "limit" not in params:
        return DEFAULT_LIMIT
    limit = _integer(params["limit"], "limit")
    if limit < 1:
        raise StripeError(400, "This value must be greater than or equal to 1.", param="limit")
    if limit > MAX_LIMIT:
        raise StripeError(400, f"This value must be less than or equal to {MAX_LIMIT}.", param="limit")
    return limit


def _expansions(params: Params) -> list[list[str]]:
    paths = params.get("expand", [])
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list):
        raise StripeError(400, "Invalid array", param="expand")
    return [path.split(".") for path in paths]


def mask_key(api_key: str) -> str:
    """How Stripe echoes a rejected key: its mode prefix and last four characters."""
    prefix = re.match(r"(?:sk|rk|pk)_(?:test|live)_", api_key)
    head = prefix.group(0) if prefix else ""
    return f"{head}****{api_key[-4:]}"


def _api_key(headers: Mapping[str, str]) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        # curl -u sk_test_...: — the key is the user name, the password empty.
        try:
            return base64.b64decode(credentials, validate=True).decode().partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


class StripeApi:
    prefix = "/stripe"

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self._request_numbers = itertools.count(1)
        # Writes one at a time: an idempotency key is checked, executed and remembered atomically.
        self._writing = threading.Lock()

    # --- Provider protocol ---

    def route(self, request: ApiRequest) -> str:
        match = _PATH.fullmatch(request.path)
        if match is None:
            return f"{request.method} unrecognized"
        resource, object_id, child = match.groups()
        path = f"/v1/{resource}" + ("/{id}" if object_id else "") + (f"/{child}" if child else "")
        return f"{request.method} {path}"

    def authenticate(self, request: ApiRequest) -> Caller | ApiResponse:
        api_key = _api_key(request.headers)
        if api_key is None:
            return self._error(
                StripeError(
                    401,
                    "You did not provide an API key. You need to provide your API key in the Authorization "
                    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                    "https://stripe.com/docs/api#authentication for details, or we can help at "
                    "https://support.stripe.com/.",
                )
            )
        workspace_id = self.accounts.workspace_for_stripe_key(api_key)
        if workspace_id is None:
            return self._error(StripeError(401, f"Invalid API Key provided: {mask_key(api_key)}"))
        return Caller(workspace_id, api_key)

    def handle(self, request: ApiRequest, caller: Caller, faults: Faults) -> ApiResponse:
        if caller.workspace_id in faults.stripe_keys_rolled:
            # A rolled key is answered like any unknown one (the check needs the faults, so it is here).
            return self._error(StripeError(401, f"Invalid API Key provided: {mask_key(caller.api_key)}"))
        if request.method == "POST":
            return self._write(request, caller)
        account = self.accounts.stripe_account(caller.workspace_id)
        try:
            payload, served = self._dispatch(request, account, faults)
        except StripeError as error:
            return self._error(error)
        return ApiResponse(200, payload, self._headers(), served)

    def rate_limited(self, retry_after: float) -> ApiResponse:
        error = StripeError(
            429,
            "Request rate limit exceeded. You can learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )
        headers = {**self._headers(), "Retry-After": f"{max(retry_after, 0.001):.3f}".rstrip("0").rstrip(".")}
        return ApiResponse(429, {"error": error.body}, headers)

    def server_error(self, status: int) -> ApiResponse:
        error = StripeError(status, "An unknown error occurred", error_type="api_error")
        return ApiResponse(status, {"error": error.body}, self._headers())

    # --- requests ---

    def _headers(self) -> dict[str, str]:
        return {
            "Request-Id": make_id("req_", "request", next(self._request_numbers), length=14),
            "Stripe-Version": API_VERSION,
        }

    def _error(self, error: StripeError) -> ApiResponse:
        return ApiResponse(error.status, {"error": error.body}, self._headers())

    # --- writes ---

    def _write(self, request: ApiRequest, caller: Caller) -> ApiResponse:
        try:
            params = parse_query([*request.query, *parse_qsl(request.body.decode(), keep_blank_values=True)])
        except UnicodeDecodeError:
            return self._error(StripeError(400, "Invalid request body: not UTF-8 form data."))
        except StripeError as error:
            return self._error(error)
        key = request.headers.get("idempotency-key")
        fingerprint = json.dumps([request.method, request.path, params], sort_keys=True)
        with self._writing:
            if key:
                previous = self.accounts.actions.result_for(caller.workspace_id, key)
                if previous is not None:
                    if previous.fingerprint != fingerprint:
                        return self._error(
                            StripeError(
                                400,
                                "Keys for idempotent requests can only be used with the same parameters "
                                "they were first used with. Try using a key other than "
                                f"'{key}' if you meant to execute a different request.",
                                error_type="idempotency_error",
                            )
                        )
                    headers = {**self._headers(), "Idempotency-Key": key, "Idempotent-Replayed": "true"}
                    return ApiResponse(previous.status, previous.body, headers)
            try:
                status, body = 200, self._invoice_action(request, caller, params)
            except StripeError as error:
                status, body = error.status, {"error": error.body}
            if key:
                self.accounts.actions.remember(
                    IdempotentResult(caller.workspace_id, key, fingerprint, status, body)
                )
        headers = {**self._headers(), **({"Idempotency-Key": key} if key else {})}
        return ApiResponse(status, body, headers, ("invoices", 1) if status == 200 else None)

    def _invoice_action(self, request: ApiRequest, caller: Caller, params: Params) -> JSON:
        match = _PATH.fullmatch(request.path)
        resource, object_id, verb = match.groups() if match else (None, None, None)
        if resource != "invoices" or object_id is None or verb not in _INVOICE_ACTIONS:
            raise StripeError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            )
        kind, allowed = _INVOICE_ACTIONS[verb]
        self._reject_unknown(params, allowed)
        account = self.accounts.stripe_account(caller.workspace_id)
        invoice = account.find("invoices", object_id)
        if not isinstance(invoice, Invoice):
            raise self._missing("invoices", object_id, "id")
        status = invoice.status_at(account.now)
        if status == "paid":
            raise StripeError(400, "Invoice is already paid")
        if status != "open":
            raise StripeError(
                400, f"You can only {verb.replace('_', ' ')} an open invoice; this one is {status}."
            )
        # One second before the clock: a payment settles a second after its charge (billing.py), and the
        # caller must see the outcome at the clock.
        self.accounts.record(Action(kind, caller.workspace_id, invoice.id, account.now - 1))
        account = self.accounts.stripe_account(caller.workspace_id)
        invoice = account.find("invoices", object_id)
        assert isinstance(invoice, Invoice)
        rendered = self._serve(account, invoice, Faults(), _expansions(params))
        if kind == "invoice_pay" and invoice.status_at(account.now) != "paid":
            # Stripe answers a declined payment with a card error naming the charge and the intent.
            intent = account.render(invoice.payment_intent) if invoice.payment_intent is not None else None
            error = dict(intent["last_payment_error"]) if intent and intent.get("last_payment_error") else {}
            error["payment_intent"] = intent
            raise _CardError(error)
        return rendered

    def _dispatch(
        self, request: ApiRequest, account: StripeAccount, faults: Faults
    ) -> tuple[JSON, tuple[str, int]]:
        match = _PATH.fullmatch(request.path) if request.method == "GET" else None
        resource, object_id, child = match.groups() if match else (None, None, None)
        params = parse_query(request.query)
        if resource in OBJECT_NAMES and child is None:
            if object_id is None:
                if resource == "subscription_items":
                    return self._subscription_items(account, params, faults)
                return self._list(
                    account, resource, account.listings[resource], params, f"/v1/{resource}", faults
                )
            return self._retrieve(account, resource, object_id, params, faults)
        if (resource, child) == ("invoices", "lines") and object_id is not None:
            invoice = self._parent(account, "invoices", object_id)
            return self._list(
                account,
                "invoice_line_items",
                Listing(invoice.lines),
                params,
                f"/v1/invoices/{object_id}/lines",
                faults,
            )
        if (resource, child) == ("customers", "payment_methods") and object_id is not None:
            # A deleted customer has no cards to list: Stripe answers as for an unknown customer.
            customer = account.listings["customers"].rank.get(object_id)
            if customer is None:
                raise self._missing("customers", object_id, "id")
            return self._list(
                account,
                "payment_methods",
                Listing(account.cards_of(object_id)),
                {**params, "customer": object_id},
                f"/v1/customers/{object_id}/payment_methods",
                faults,
            )
        if (resource, child) == ("charges", "refunds") and object_id is not None:
            charge = self._parent(account, "charges", object_id)
            refunds = account.listings["refunds"]
            return self._list(
                account,
                "refunds",
                refunds,
                {**params, "charge": charge.id},
                f"/v1/charges/{object_id}/refunds",
                faults,
            )
        raise StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    def _parent(self, account: StripeAccount, resource: str, object_id: str) -> Any:
        item = account.find(resource, object_id)
        if item is None:
            raise self._missing(resource, object_id, "id")
        return item

    @staticmethod
    def _missing(resource: str, object_id: str, param: str) -> StripeError:
        status = 404 if param == "id" else 400
        return StripeError(
            status,
            f"No such {OBJECT_NAMES.get(resource, resource)}: '{object_id}'",
            param=param,
            code="resource_missing",
        )

    def _subscription_items(
        self, account: StripeAccount, params: Params, faults: Faults
    ) -> tuple[JSON, tuple[str, int]]:
        if "subscription" not in params:
            raise StripeError(400, "Missing required param: subscription.", param="subscription")
        subscription = self._parent(account, "subscriptions", _string(params["subscription"], "subscription"))
        url = f"/v1/subscription_items?subscription={subscription.id}"
        return self._list(
            account, "subscription_items", account.listings["subscription_items"], params, url, faults
        )

    def _retrieve(
        self, account: StripeAccount, resource: str, object_id: str, params: Params, faults: Faults
    ) -> tuple[JSON, tuple[str, int]]:
        self._reject_unknown(params, {"expand"})
        item = account.find(resource, object_id)
        if item is None:
            stub = account.deleted_stub(resource, object_id)
            if stub is not None:
                return stub, (resource, 1)
            raise self._missing(resource, object_id, "id")
        return self._serve(account, item, faults, _expansions(params)), (resource, 1)

    def _list(
        self,
        account: StripeAccount,
        resource: str,
        listing: Listing,
        params: Params,
        url: str,
        faults: Faults,
    ) -> tuple[JSON, tuple[str, int]]:
        filters = FILTERS.get(resource, {})
        # Embedded sub-lists (an invoice's lines) page by cursor only, like Stripe's.
        ranged = {"created"} if listing is account.listings.get(resource) else set()
        self._reject_unknown(
            params, _PAGINATION | filters.keys() | _SPECIAL_PARAMS.get(resource, set()) | ranged
        )
        limit = _limit(params)
        if "starting_after" in params and "ending_before" in params:
            raise StripeError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        conditions: list[Callable[[Any], bool]] = []
        for param in sorted(params.keys() & filters.keys()):
            conditions.append(self._equals(filters[param], _string(params[param], param), account.now))
        if "created" in params:
            conditions.append(_created_filter(params["created"]))
        conditions += self._special_filters(resource, params, account.now)
        key = tuple(sorted((name, repr(value)) for name, value in params.items() if name not in _PAGINATION))
        positions = listing.select(
            key, (lambda item: all(keep(item) for keep in conditions)) if conditions else None
        )
        cursors = {
            name: _string(params[name], name)
            for name in ("starting_after", "ending_before")
            if name in params
        }
        try:
            page, has_more = listing.page(
                positions, limit, cursors.get("starting_after"), cursors.get("ending_before")
            )
        except ListingError as error:
            param = next(iter(cursors))
            raise self._missing(resource, str(error), param) from None
        expansions = [path[1:] for path in _expansions(params) if path[0] == "data" and len(path) > 1]
        data = [self._serve(account, item, faults, expansions) for item in page]
        return {"object": "list", "data": data, "has_more": has_more, "url": url}, (resource, len(data))

    @staticmethod
    def _equals(extract: Callable[[Any, int], object], wanted: str, now: int) -> Callable[[Any], bool]:
        return lambda item: extract(item, now) == wanted

    @staticmethod
    def _special_filters(resource: str, params: Params, now: int) -> list[Callable[[Any], bool]]:
        status = params.get("status")
        if resource in _STATUS_FILTERS and status is not None and status not in _STATUS_FILTERS[resource]:
            raise StripeError(
                400,
                f"Invalid status: must be one of {', '.join(sorted(_STATUS_FILTERS[resource]))}",
                param="status",
            )
        if resource == "subscriptions":
            # Without a status Stripe leaves canceled subscriptions out; `ended` also takes expired ones.
            if status == "all":
                return []
            if status == "ended":
                return [lambda item: item.status.at(now) in ("canceled", "incomplete_expired")]
            if status is None:
                return [lambda item: item.status.at(now) != "canceled"]
            return [lambda item: item.status.at(now) == status]
        if resource == "events" and ("type" in params or "types" in params):
            if "type" in params and "types" in params:
                raise StripeError(
                    400, "You may only specify one of these parameters: type, types.", param="types"
                )
            patterns = params["types"] if "types" in params else [_string(params["type"], "type")]
            if not isinstance(patterns, list):
                raise StripeError(400, "Invalid array", param="types")
            return [event_type_filter(patterns)]
        return []

    @staticmethod
    def _reject_unknown(params: Params, allowed: set[str] | frozenset[str]) -> None:
        for name in params:
            if name not in allowed:
                raise StripeError(400, f"Received unknown parameter: {name}", param=name)

    # --- serving one object ---

    def _serve(self, account: StripeAccount, item: Item, faults: Faults, expansions: list[list[str]]) -> JSON:
        obj = self._faulted(account, item, faults)
        for path in expansions:
            includable, value = account.includable(item, path[0]) if len(path) == 1 else (False, None)
            obj = {**obj, path[0]: value} if includable else self._expand(account, obj, path, faults)
        return obj

    def _faulted(self, account: StripeAccount, item: Item, faults: Faults) -> JSON:
        """`item` as served under `faults`: corrupted if chosen, with any new fields, wherever it appears."""
        obj = account.render(item)
        if isinstance(item, EventRecord):
            entity = item.change.entity
            snapshot = obj["data"]["object"]
            faulted = self._fault(account, resource_of(entity), entity.id, snapshot, faults)
            if faulted is not snapshot:
                obj = {**obj, "data": {**obj["data"], "object": faulted}}
        return self._fault(account, resource_of(item), item.id, obj, faults)

    @staticmethod
    def _fault(account: StripeAccount, resource: str, object_id: str, obj: JSON, faults: Faults) -> JSON:
        broken = faults.malformed.get(resource, 0)
        if broken and object_id in account.malformed_ids(faults.seed, resource, broken):
            obj = corrupt(resource, obj, faults.seed)
        added = faults.extra_fields.get(resource)
        return {**obj, **added} if added else obj

    def _expand(self, account: StripeAccount, value: Any, path: list[str], faults: Faults) -> Any:
        """`value` with the id at `path` replaced by the object it names; copies, never changes, renders."""
        if not path:
            return value
        if isinstance(value, list):
            return [self._expand(account, entry, path, faults) for entry in value]
        if not isinstance(value, dict) or path[0] not in value:
            return value
        child = value[path[0]]
        if isinstance(child, list) and len(path) == 1:
            # A list of ids (an invoice's `discounts`) expands entry by entry.
            found = [self._lookup(account, entry) if isinstance(entry, str) else None for entry in child]
            if not any(found):
                return value
            expanded_list = [
                self._faulted(account, target, faults) if target is not None else entry
                for entry, target in zip(child, found, strict=True)
            ]
            return {**value, path[0]: expanded_list}
        if isinstance(child, str):
            target = self._lookup(account, child)
            if target is None:
                return value
            child = self._faulted(account, target, faults)
        expanded = self._expand(account, child, path[1:], faults)
        if expanded is value[path[0]]:
            return value
        return {**value, path[0]: expanded}

    @staticmethod
    def _lookup(account: StripeAccount, object_id: str) -> Item | None:
        resource = _ID_PREFIXES.get(object_id.partition("_")[0])
        return account.find(resource, object_id) if resource is not None else None
