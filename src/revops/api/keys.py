"""API keys: `rk_live_…` / `rk_test_…`, bound to one workspace, scoped, stored only as SHA-256 hashes.

Keys are the API's own data, kept in the warehouse next to (not inside) the marts: the table
`api.api_keys`, one row per key version in a ReplacingMergeTree. Revoking writes a new version with
`revoked_at` set; nothing is updated in place. Every API replica and the CLI see the same keys, and a
read-only ClickHouse user for the API needs SELECT on `marts` and `api` only. The secret itself is
shown once, when created; what is stored is its hash and a display prefix (`rk_live_AbCd…`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from clickhouse_connect.driver.client import Client

from revops.core.ddl import create_table_if_missing, warehouse_dialect
from revops.core.workspaces import WORKSPACE_ID_PATTERN

KEYS_TABLE = "api.api_keys"
KEY_PATTERN = re.compile(r"^rk_(live|test)_[A-Za-z0-9]{32}$")
DISPLAY_PREFIX_LENGTH = len("rk_live_") + 4
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

Mode = Literal["live", "test"]


class Scope(StrEnum):
    ledger = "ledger:read"
    recovery = "recovery:read"
    usage = "usage:read"
    metrics = "metrics:read"
    connections = "connections:read"


class ApiKeyError(ValueError):
    """A key request that cannot be honoured (unknown key, bad workspace, no scopes)."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    workspace_id: str
    name: str
    mode: Mode
    display_prefix: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str
    """The full key: shown once, never stored."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(secret: str) -> bool:
    return bool(KEY_PATTERN.match(secret))


KEYS_TABLE_COLUMNS: dict[str, str] = {
    "key_id": "String",
    "workspace_id": "LowCardinality(String)",
    "name": "String",
    "mode": "LowCardinality(String)",
    "display_prefix": "String",
    "key_hash": "FixedString(64)",
    "scopes": "Array(LowCardinality(String))",
    "created_at": "DateTime64(3, 'UTC')",
    "revoked_at": "Nullable(DateTime64(3, 'UTC'))",
    "version": "DateTime64(6, 'UTC')",
}


def ensure_keys_table(client: Client) -> None:
    database, table = KEYS_TABLE.split(".")
    create_table_if_missing(
        client, database, table, KEYS_TABLE_COLUMNS, "ReplacingMergeTree", "version", order_by=["key_id"]
    )


_COLUMNS = "key_id, workspace_id, name, mode, display_prefix, scopes, created_at, revoked_at"


def _now() -> datetime:
    """Now, at the millisecond precision the table keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _from_row(row: dict) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        mode=row["mode"],
        display_prefix=row["display_prefix"],
        scopes=frozenset(Scope(scope) for scope in row["scopes"] if scope in Scope._value2member_map_),
        created_at=_utc(row["created_at"]),
        revoked_at=_utc(row["revoked_at"]),
    )


def _table_exists(client: Client) -> bool:
    return bool(client.command("EXISTS TABLE api.api_keys"))


def find_by_secret(client: Client, secret: str) -> ApiKey | None:
    """The key whose secret this is (revoked or not), or None."""
    if not looks_like_key(secret) or not _table_exists(client):
        return None
    rows = client.query(
        f"SELECT {_COLUMNS} FROM {KEYS_TABLE} FINAL WHERE key_hash = {{key_hash:FixedString(64)}}",
        parameters={"key_hash": hash_secret(secret)},
    ).named_results()
    found = next(iter(rows), None)
    return _from_row(found) if found else None


def list_keys(client: Client, workspace_id: str | None = None) -> list[ApiKey]:
    if not _table_exists(client):
        return []
    where = "WHERE workspace_id = {workspace_id:String}" if workspace_id else ""
    result = client.query(
        f"SELECT {_COLUMNS} FROM {KEYS_TABLE} FINAL {where} ORDER BY workspace_id, created_at, key_id",
        parameters={"workspace_id": workspace_id} if workspace_id else None,
    )
    return [_from_row(row) for row in result.named_results()]


def create_key(
    client: Client,
    workspace_id: str,
    scopes: Sequence[Scope],
    *,
    name: str = "",
    mode: Mode = "live",
    known_workspaces: Collection[str] | None = None,
) -> CreatedKey:
    """A new key; with `known_workspaces`, only for one of them (a typo must not mint a key that reads
    nothing, or a workspace that appears later)."""
    if not re.match(WORKSPACE_ID_PATTERN, workspace_id):
        raise ApiKeyError(f"invalid workspace id {workspace_id!r}: expected {WORKSPACE_ID_PATTERN}")
    if known_workspaces is not None and workspace_id not in known_workspaces:
        if known_workspaces:
            known = f"known workspaces are {', '.join(sorted(known_workspaces))}"
        else:
            known = "no workspace is known yet (none in the workspace registry, none loaded in the warehouse)"
        raise ApiKeyError(f"unknown workspace {workspace_id!r}: {known}")
    if not scopes:
        raise ApiKeyError("a key needs at least one scope: " + ", ".join(scope.value for scope in Scope))
    secret = f"rk_{mode}_" + "".join(secrets.choice(_ALPHABET) for _ in range(32))
    now = _now()
    key = ApiKey(
        key_id="key_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        name=name,
        mode=mode,
        display_prefix=secret[:DISPLAY_PREFIX_LENGTH],
        scopes=frozenset(scopes),
        created_at=now,
        revoked_at=None,
    )
    ensure_keys_table(client)
    _write(client, key, hash_secret(secret))
    return CreatedKey(key, secret)


def revoke_key(client: Client, key_id: str) -> ApiKey:
    """Revoke a key (a new version of its row); revoking twice keeps the first revocation time."""
    if not _table_exists(client):
        raise ApiKeyError(f"no API key {key_id!r}")
    rows = client.query(
        f"SELECT {_COLUMNS}, toString(key_hash) AS key_hash FROM {KEYS_TABLE} FINAL "
        "WHERE key_id = {key_id:String}",
        parameters={"key_id": key_id},
    ).named_results()
    found = next(iter(rows), None)
    if not found:
        raise ApiKeyError(f"no API key {key_id!r}")
    key = _from_row(found)
    if key.is_revoked:
        return key
    revoked = ApiKey(**{**key.__dict__, "revoked_at": _now()})
    _write(client, revoked, found["key_hash"])
    return revoked


def _write(client: Client, key: ApiKey, key_hash: str) -> None:
    client.insert(
        KEYS_TABLE,
        [
            [
                key.key_id,
                key.workspace_id,
                key.name,
                key.mode,
                key.display_prefix,
                key_hash,
                sorted(scope.value for scope in key.scopes),
                key.created_at,
                key.revoked_at,
                datetime.now(UTC),
            ]
        ],
        column_names=[
            "key_id",
            "workspace_id",
            "name",
            "mode",
            "display_prefix",
            "key_hash",
            "scopes",
            "created_at",
            "revoked_at",
            "version",
        ],
        settings=warehouse_dialect().insert_settings,
    )
