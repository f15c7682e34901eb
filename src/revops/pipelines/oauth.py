"""OAuth2 refresh-token authentication for dlt `rest_api` sources (QuickBooks Online, Xero), and the
pieces both accounting sources share.

Both providers hand out short-lived access tokens (QBO 1 h, Xero 30 min) for a refresh token, and
*rotate* the refresh token: every refresh returns a new one and the old one stops working. So the
token in secrets is only the first link of a chain; the current link is written to a token file under
`$REVOPS_HOME/oauth/` (owner-only, replaced atomically) the moment it is issued — not to dlt state,
which is committed only when a run succeeds and is dropped when the warehouse is rebuilt, either of
which would lose a token the provider has already rotated. If the configured token changes (the user
reconnected the app and pasted a new one), the configured one wins again.

Access tokens are obtained lazily, renewed shortly before they expire, and renewed once more when the
API answers 401 anyway (clock skew, a token revoked server-side); the failed request is replayed and
the load continues. A second 401 in a row is an error. A refresh rejected with `invalid_grant` is
final until a person reconnects, so it raises `SourceError` naming the workspace. A token response
that fails or arrives unreadable is retried with the same refresh token: both providers keep the
previous refresh token valid for a while after rotating it (Intuit 24 hours, Xero 30 minutes)
precisely so that a lost response loses nothing. Tokens never appear in messages or logs, and never
in the warehouse.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.rest_client.auth import OAuth2AuthBase
from pydantic import SecretStr
from requests import PreparedRequest, Response

from revops.core.settings import get_settings
from revops.core.workspaces import Account
from revops.pipelines.errors import SourceError
from revops.pipelines.retry import RetryingSession

EXPIRY_MARGIN = 0.9
"""Renew an access token after this share of its lifetime, before the API has to reject it."""


def secret_value(value: SecretStr | str | None) -> str | None:
    """A registry secret (pydantic `SecretStr`) or a plain string, unwrapped."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RefreshTokenStore:
    """The current link of each rotating refresh-token chain, one owner-only JSON file per connection.

    A file remembers which configured token its chain started from, so configuring a new token (a
    reconnected app) starts a new chain instead of continuing a revoked one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, connection: str) -> Path:
        return self.directory / f"{re.sub(r'[^a-z0-9]+', '_', connection.lower())}.json"

    def current(self, connection: str, configured: str) -> str | None:
        try:
            saved = json.loads(self._path(connection).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return saved["refresh_token"] if saved.get("configured") == _fingerprint(configured) else None

    def save(self, connection: str, configured: str, token: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(connection)
        partial = path.with_suffix(".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump({"configured": _fingerprint(configured), "refresh_token": token}, file)
            file.flush()
            os.fsync(file.fileno())
        # Atomic: a crash leaves either the previous link or this one, never a torn file.
        os.replace(partial, path)


def refresh_token_store() -> RefreshTokenStore:
    return RefreshTokenStore(get_settings().home / "oauth")


def decimal_json(response: Response, *args: Any, **kwargs: Any) -> Response:
    """Response hook: the body's JSON numbers parse as `Decimal`, so money stays exact end to end."""
    response.json = functools.partial(Response.json, response, parse_float=Decimal)  # type: ignore[method-assign]
    return response


def account_secrets(account: Any) -> dict[str, str]:
    """The OAuth2 secrets a registry account carries; absent ones are left to dlt's injection."""
    secrets = {
        name: secret_value(getattr(account, name, None))
        for name in ("client_id", "client_secret", "refresh_token")
    }
    return {name: value for name, value in secrets.items() if value}


def stamp(workspace_id: str, synced_at: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Processing step adding the lineage columns every raw table carries."""

    def add_lineage(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "workspace_id": workspace_id, "_revops_synced_at": synced_at}

    return add_lineage


@configspec
class OAuth2RefreshTokenAuth(OAuth2AuthBase):
    """Bearer auth from a rotating OAuth2 refresh token (client id/secret by HTTP Basic)."""

    access_token: Optional[TSecretStrValue] = None  # noqa: UP045 (dlt's configspec reads this hint)
    """Obtained at run time from the refresh token, never configured."""
    token_url: str = None
    client_id: TSecretStrValue = None
    client_secret: TSecretStrValue = None
    refresh_token: TSecretStrValue = None
    provider: str = None
    """Name for messages: `QuickBooks Online`, `Xero`."""
    workspace_id: str = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        label = f"workspace {self.workspace_id!r}: {self.provider} token endpoint"
        self._token_session = RetryingSession(label)
        self._expires_at = 0.0
        self._current_refresh: str | None = None
        self.refreshes = 0
        """Access tokens obtained so far (for tests and statistics)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> OAuth2RefreshTokenAuth:
        # rest_api deep-copies its config to validate it and masks the secrets of the copy; a lock
        # cannot be copied, and the copy is never used to authenticate, so a shallow copy will do.
        clone = copy.copy(self)
        clone._lock = threading.Lock()
        return clone

    # --- the rotating refresh token ---

    @property
    def _connection(self) -> str:
        return f"{self.provider} {self.workspace_id}"

    def _refresh_token(self) -> str:
        if self._current_refresh is not None:
            return self._current_refresh
        configured = self.refresh_token or ""
        return refresh_token_store().current(self._connection, configured) or configured

    def _remember(self, token: str) -> None:
        self._current_refresh = token
        refresh_token_store().save(self._connection, self.refresh_token or "", token)

    # --- access tokens ---

    def obtain_token(self) -> None:
        """Trade the current refresh token for an access token and the next refresh token."""
        if not self.refresh_token or not self.client_id or not self.client_secret:
            raise SourceError(
                f"workspace {self.workspace_id!r}: {self.provider} needs client_id, client_secret "
                "and refresh_token"
            )
        response = self._token_session.post(
            self.token_url,
            data={"grant_type": "refresh_token", "refresh_token": self._refresh_token()},
            auth=(self.client_id, self.client_secret),
            headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            message, needs_reauth = self._refusal(response)
            raise SourceError(message, needs_reauth=needs_reauth)
        body = response.json()
        self.access_token = body["access_token"]
        self._expires_at = time.monotonic() + float(body.get("expires_in", 3600)) * EXPIRY_MARGIN
        if body.get("refresh_token"):
            self._remember(body["refresh_token"])
        self.refreshes += 1

    def _refusal(self, response: Response) -> tuple[str, bool]:
        """What the token endpoint's refusal means, and whether only reconnecting the app fixes it."""
        try:
            error = response.json().get("error", "")
        except ValueError:
            error = ""
        prefix = f"workspace {self.workspace_id!r}: {self.provider}"
        if error == "invalid_grant":
            return (
                f"{prefix} rejected the refresh token (invalid_grant): the connection was revoked or "
                "has expired; reconnect the app and configure the new refresh_token"
            ), True
        if error == "invalid_client" or response.status_code == 401:
            return (
                f"{prefix} rejected the client credentials (invalid_client); check client_id/client_secret",
                True,
            )
        return f"{prefix} token endpoint answered HTTP {response.status_code} {error}".rstrip(), False

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        with self._lock:
            if not self.access_token or time.monotonic() >= self._expires_at:
                self.obtain_token()
            request.headers["Authorization"] = f"Bearer {self.access_token}"
        request.register_hook("response", self._renew_on_401)
        return request

    def _renew_on_401(self, response: Response, **kwargs: Any) -> Response:
        """On 401, renew the access token once and replay the request; its answer replaces the 401."""
        if response.status_code != 401 or response.request.headers.get("X-Revops-Replayed"):
            return response
        sent_with = response.request.headers.get("Authorization")
        with self._lock:
            # Another request may have renewed the token meanwhile; renew only if it is the one refused.
            if sent_with == f"Bearer {self.access_token}":
                self.obtain_token()
            authorization = f"Bearer {self.access_token}"
        response.close()
        replay = response.request.copy()
        replay.headers["Authorization"] = authorization
        replay.headers["X-Revops-Replayed"] = "1"
        assert response.connection is not None
        answer: Response = response.connection.send(replay, **kwargs)
        answer.history.append(response)
        answer.request = replay
        return answer


class OAuthAccount(Account):
    """An OAuth2 connection to an accounting API; refresh tokens rotate on every refresh."""

    api_base: str
    token_url: str
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
