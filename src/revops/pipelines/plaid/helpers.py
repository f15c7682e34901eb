"""Talking to Plaid through `plaid-python`: credentials, retries, and error classification.

Responses are read raw (`_preload_content=False`) and parsed with Decimal for JSON numbers:
Plaid sends amounts as JSON numbers in major units, which the SDK's models would turn into floats.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from typing import Any

import plaid
import urllib3
from plaid.api import plaid_api
from plaid.model.accounts_get_request import AccountsGetRequest
from plaid.model.item_get_request import ItemGetRequest
from plaid.model.transactions_sync_request import TransactionsSyncRequest

from revops.pipelines.errors import SourceError
from revops.pipelines.plaid.settings import MAX_ATTEMPTS, REQUESTS_PER_SECOND
from revops.pipelines.retry import RateLimiter, retry_delay

logger = logging.getLogger(__name__)

MUTATION_DURING_PAGINATION = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"


REAUTH_ERROR_CODES = frozenset({"ITEM_LOGIN_REQUIRED", "INVALID_ACCESS_TOKEN", "INVALID_API_KEYS"})
"""Plaid errors only the user can fix: the bank login must be repaired through Link update mode, or the
keys or token replaced (https://plaid.com/docs/errors/item/#item_login_required)."""


class PlaidSourceError(SourceError):
    """A Plaid failure that retrying cannot fix (bad keys, a revoked or invalid access token)."""


class MutationDuringPagination(Exception):
    """The Item changed between two pages of one update: restart it from the update's first cursor."""


def token_label(access_token: str) -> str:
    """How an access token is named in messages: never the token itself."""
    return f"access token …{access_token[-4:]}"


class PlaidApi:
    """Read access to the Items of one workspace, with backoff on 429 and 5xx."""

    def __init__(self, workspace_id: str, api_base: str, client_id: str, secret: str) -> None:
        self.workspace_id = workspace_id
        configuration = plaid.Configuration(host=api_base, api_key={"clientId": client_id, "secret": secret})
        self._client = plaid_api.PlaidApi(plaid.ApiClient(configuration))
        self._limiters: dict[str, RateLimiter] = {}

    def item(self, access_token: str) -> dict[str, Any]:
        return self._call("item_get", ItemGetRequest(access_token=access_token), access_token)

    def accounts(self, access_token: str) -> dict[str, Any]:
        return self._call("accounts_get", AccountsGetRequest(access_token=access_token), access_token)

    def sync(self, access_token: str, cursor: str, count: int) -> dict[str, Any]:
        """One page of /transactions/sync; raises MutationDuringPagination when the update must restart."""
        request = TransactionsSyncRequest(access_token=access_token, cursor=cursor, count=count)
        return self._call("transactions_sync", request, access_token)

    def _call(self, method: str, request: Any, access_token: str) -> dict[str, Any]:
        limiter = self._limiters.setdefault(access_token, RateLimiter(REQUESTS_PER_SECOND))
        where = f"workspace {self.workspace_id!r} ({token_label(access_token)})"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            limiter.acquire()
            try:
                response = getattr(self._client, method)(request, _preload_content=False)
                return json.loads(response.data, parse_float=Decimal)
            except plaid.ApiException as exc:
                error = _error_body(exc)
                code = error.get("error_code") or f"HTTP {exc.status}"
                if code == MUTATION_DURING_PAGINATION:
                    raise MutationDuringPagination(error.get("error_message")) from exc
                if exc.status != 429 and (exc.status or 0) < 500:
                    # Bad keys or token, a revoked login, a malformed request: no retry can fix these.
                    raise PlaidSourceError(
                        f"{where}: Plaid refused {method} ({code}: {error.get('error_message', exc.reason)})",
                        needs_reauth=code in REAUTH_ERROR_CODES,
                    ) from exc
                reason = f"{code} ({exc.status})"
            except (urllib3.exceptions.HTTPError, ValueError) as exc:
                # Connection failures and truncated or unreadable bodies are transient.
                reason = f"{type(exc).__name__}: {exc}"
            if attempt == MAX_ATTEMPTS:
                raise PlaidSourceError(
                    f"{where}: {method} still failing after {MAX_ATTEMPTS} attempts ({reason})"
                )
            delay = retry_delay(attempt)  # Plaid sends no Retry-After
            logger.info("%s: %s %s; retry %d in %.2fs", where, method, reason, attempt, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def _error_body(exc: plaid.ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
