"""What the simulated accounting APIs (QuickBooks Online, Xero) share: OAuth2 and decimal JSON.

Both providers use the OAuth2 refresh-token grant the same way: a client authenticates with HTTP
Basic at a token endpoint, trades a refresh token for a short-lived access token and a *new*
refresh token, and the old refresh token stops working (rotation). `TokenService` is that server
side, per provider. Access tokens live in the running server (runtime state, like rate-limit
buckets). Refresh tokens are self-validating (generation + HMAC), and the service remembers only the
newest generation it issued: older tokens are refused, as rotation requires, while a restarted
simulator still honours the newest token a client kept, as a real provider does across its deploys.
The token just before the newest stays valid for a grace period after its successor is issued, as
both providers document for a client that never received the refresh response (Intuit: previous
refresh tokens expire 24 hours after a new one is issued; Xero: 30 minutes).
`Faults.oauth_access_token_ttl_s` shortens access tokens and `Faults.oauth_revoked` revokes a
workspace's grant, as a user disconnecting the app does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from revops_simulator.business.seeding import base62, stable_hash
from revops_simulator.faults import Faults

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class OAuthClient:
    """A workspace's connection to its accounting system: which company, the app's credentials and
    the first refresh token (what the user's consent yields)."""

    provider: str
    """`quickbooks` or `xero`."""
    workspace_id: str
    company_id: str
    """QuickBooks realm id or Xero tenant id."""
    client_id: str
    client_secret: str
    refresh_token: str


def oauth_client(seed: int, workspace_id: str, provider: str) -> OAuthClient:
    """Deterministic credentials for `workspace_id` at `provider`, from the world seed."""

    def secret(kind: str, width: int) -> str:
        return base62(stable_hash(seed, workspace_id, provider, kind, bits=6 * width + 8), width)

    company = stable_hash(seed, workspace_id, provider, "company", bits=128)
    # Realm ids are 16-19 digits; Xero tenant ids are UUIDs.
    company_id = f"9130{company % 10**12:012d}" if provider == "quickbooks" else guid(company)
    return OAuthClient(
        provider,
        workspace_id,
        company_id,
        secret("client-id", 32),
        secret("client-secret", 40),
        secret("refresh", 48),
    )


def guid(*parts: object) -> str:
    """A deterministic UUID-shaped id (Xero's ids), from the parts naming the thing."""
    hex_id = f"{stable_hash(*parts, bits=128):032x}"
    return f"{hex_id[:8]}-{hex_id[8:12]}-4{hex_id[13:16]}-a{hex_id[17:20]}-{hex_id[20:]}"


def encode_json(value: Any) -> bytes:
    """JSON with `Decimal` written as an exact number (`12.30`), as accounting APIs send money."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(key))}:{_encode(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value)


class RenderCache(Generic[K, V]):
    """The last few renders, keyed by the object rendered (books change only when the clock moves,
    and a world swaps in new books then, so identity is the right key)."""

    def __init__(self, render: Callable[[K], V], keep: int = 4) -> None:
        self._render = render
        self._keep = keep
        self._entries: dict[int, tuple[K, V]] = {}

    def get(self, source: K) -> V:
        entry = self._entries.get(id(source))
        if entry is None or entry[0] is not source:
            entry = (source, self._render(source))
            # Replaced, not mutated: request threads may read concurrently.
            self._entries = {**dict(list(self._entries.items())[1 - self._keep :]), id(source): entry}
        return entry[1]


def minor_to_decimal(amount: int, exponent: int = 2) -> Decimal:
    return Decimal(amount).scaleb(-exponent)


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_in: int


class TokenError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


class TokenService:
    """Issues and checks one provider's tokens for every workspace; thread-safe."""

    def __init__(self, provider: str, clients: Mapping[str, OAuthClient], grace_s: float = 0.0) -> None:
        self.provider = provider
        self.grace_s = grace_s
        self._clients = {client.client_id: client for client in clients.values()}
        self._lock = threading.Lock()
        self._counter = 0
        self._floors: dict[str, int] = {}
        """Workspace id → generation of the newest refresh token issued; older ones are spent."""
        self._rotated_at: dict[str, float] = {}
        """Workspace id → when (monotonic) its newest generation was first issued: the previous
        generation is still honoured for `grace_s` after that."""
        self._access: dict[str, tuple[str, float]] = {}
        """Access token → (workspace id, monotonic expiry)."""
        self.reset()

    def reset(self) -> None:
        """Back to the state right after consent: each workspace's initial refresh token, no access."""
        with self._lock:
            self._floors.clear()
            self._rotated_at.clear()
            self._access.clear()

    def client(self, authorization: str | None) -> OAuthClient | None:
        """The client an HTTP Basic `Authorization` header names, if its secret matches."""
        if not authorization or not authorization.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, client_secret = decoded.partition(":")
        client = self._clients.get(client_id)
        return client if client is not None and client.client_secret == client_secret else None

    def refresh(self, client: OAuthClient, body: bytes, faults: Faults) -> TokenGrant:
        """The refresh-token grant: a new access token and a rotated refresh token."""
        form = dict(parse_qsl(body.decode(errors="replace")))
        if form.get("grant_type") != "refresh_token":
            raise TokenError(400, "unsupported_grant_type", "grant_type must be refresh_token")
        token = form.get("refresh_token", "")
        with self._lock:
            generation = _generation_of(client, token)
            floor = self._floors.get(client.workspace_id, 0)
            in_grace = (
                generation == floor - 1
                and time.monotonic() - self._rotated_at.get(client.workspace_id, 0.0) < self.grace_s
            )
            spent = generation is not None and generation < floor and not in_grace
            if generation is None or spent or client.workspace_id in faults.oauth_revoked:
                raise TokenError(400, "invalid_grant", "The refresh token is invalid, expired or revoked.")
            self._counter += 1
            if generation + 1 > floor:
                self._floors[client.workspace_id] = generation + 1
                self._rotated_at[client.workspace_id] = time.monotonic()
            fresh = _rotated_refresh_token(
                client, generation + 1, self._token("nonce", client.workspace_id, 16)
            )
            access = self._token("access", client.workspace_id, 64)
            ttl = faults.oauth_access_token_ttl_s
            self._access[access] = (client.workspace_id, time.monotonic() + ttl)
        return TokenGrant(access, fresh, max(1, round(ttl)))

    def _token(self, kind: str, workspace_id: str, width: int) -> str:
        # Unpredictable enough for a test double, and unique per issuance.
        return base62(
            stable_hash(self.provider, workspace_id, kind, self._counter, time.time_ns(), bits=6 * width + 8),
            width,
        )

    def check(self, authorization: str | None) -> tuple[str | None, str | None]:
        """(workspace id, None) for a live bearer token, else (None, "missing" | "invalid" | "expired")."""
        if not authorization or not authorization.startswith("Bearer "):
            return None, "missing"
        with self._lock:
            entry = self._access.get(authorization[7:])
        if entry is None:
            return None, "invalid"
        workspace_id, expires = entry
        if time.monotonic() >= expires:
            return None, "expired"
        return workspace_id, None


ROTATED_TOKEN_PREFIX = "rt1"


def _signature(client: OAuthClient, payload: str) -> str:
    return hmac.new(client.client_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def _rotated_refresh_token(client: OAuthClient, generation: int, nonce: str) -> str:
    payload = f"{ROTATED_TOKEN_PREFIX}.{client.workspace_id}.{generation}.{nonce}"
    return f"{payload}.{_signature(client, payload)}"


def _generation_of(client: OAuthClient, token: str) -> int | None:
    """0 for the consent's refresh token, n for the n-th rotation, None for a token never issued."""
    if hmac.compare_digest(token, client.refresh_token):
        return 0
    payload, _, signature = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or parts[:2] != [ROTATED_TOKEN_PREFIX, client.workspace_id] or not parts[2].isdigit():
        return None
    return int(parts[2]) if hmac.compare_digest(signature, _signature(client, payload)) else None


def grant_body(grant: TokenGrant, refresh_ttl_s: int) -> dict[str, Any]:
    """The token endpoint's success body, identical in shape for both providers."""
    return {
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "x_refresh_token_expires_in": refresh_ttl_s,
    }
