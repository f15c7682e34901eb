"""Fixtures for the API tests.

Machinery tests (auth, pagination, errors, limits) run against a small probe table in a temporary
embedded warehouse, served by a test-only endpoint declaration, with keys stored the real way
(`api.api_keys`). Endpoint tests use the session's `simulated_warehouse` read-only, so their keys
live in memory instead of in that warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from revops.api.keys import ApiKey, Scope, create_key, hash_secret
from revops.api.main import create_app
from revops.api.queries import Filter, MartEndpoint
from revops.core.settings import Settings
from revops.core.warehouse import connect, ensure_databases
from tests.support import isolated_warehouse

PROBE_TABLE = "marts.api_probe_rows"
PROBE_ROWS = {"acme": 237, "globex": 151}
CURRENCIES = ("USD", "EUR", "GBP")


class ProbeRow(BaseModel):
    workspace_id: str
    row_id: str
    occurred_at: datetime
    occurred_on: date
    currency: str
    amount: int


PROBE = MartEndpoint(
    path="/probe/rows",
    table=PROBE_TABLE,
    row=ProbeRow,
    scope=Scope.ledger,
    order_by=("occurred_at", "row_id"),
    summary="Probe rows (tests only)",
    filters=(
        Filter("currency", "currency", str),
        Filter("since", "occurred_at", datetime, ">="),
        Filter("until", "occurred_at", datetime, "<"),
        Filter("on", "occurred_on", date),
    ),
)


def probe_rows(workspace_id: str, count: int) -> list[list]:
    """Rows with many equal timestamps, so paging must break ties on row_id."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        [
            workspace_id,
            f"row_{i:05d}",
            start + timedelta(hours=i // 4),
            (start + timedelta(hours=i // 4)).date(),
            CURRENCIES[i % 3],
            (i * 37) % 1000 - 300,
        ]
        for i in range(count)
    ]


@dataclass
class ProbeApi:
    home: Path
    keys: dict[str, str]
    """Name → secret: `acme`, `globex` (ledger:read), `acme_usage` (usage:read only)."""

    @contextmanager
    def client(self, **settings: object) -> Iterator[TestClient]:
        """A TestClient on the probe endpoint, with settings overridden (cache off by default)."""
        with isolated_warehouse(self.home):
            app = create_app(Settings(**{"api_key_cache_s": 0, **settings}), endpoints=[PROBE])
            with TestClient(app) as client:
                yield client

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


@pytest.fixture(scope="module")
def probe_api(tmp_path_factory: pytest.TempPathFactory) -> ProbeApi:
    home = tmp_path_factory.mktemp("api_probe")
    with isolated_warehouse(home), connect() as client:
        ensure_databases(client)
        client.command(
            f"""CREATE TABLE {PROBE_TABLE} (
                workspace_id LowCardinality(String), row_id String, occurred_at DateTime64(3, 'UTC'),
                occurred_on Date, currency LowCardinality(String), amount Int64
            ) ENGINE = MergeTree ORDER BY (workspace_id, occurred_at, row_id)"""
        )
        for workspace_id, count in PROBE_ROWS.items():
            client.insert(
                PROBE_TABLE, probe_rows(workspace_id, count), column_names=list(ProbeRow.model_fields)
            )
        keys = {
            "acme": create_key(client, "acme", [Scope.ledger], name="probe").secret,
            "globex": create_key(client, "globex", [Scope.ledger]).secret,
            "acme_usage": create_key(client, "acme", [Scope.usage], mode="test").secret,
        }
    return ProbeApi(home, keys)


def memory_keys(*keys: tuple[str, Scope | None]) -> tuple[dict[str, str], Callable[[str], ApiKey | None]]:
    """Live keys for (workspace, scope) pairs kept in memory (all scopes when scope is None): secrets by
    workspace, and a lookup for `create_app(key_lookup=…)`."""
    by_hash: dict[str, ApiKey] = {}
    secrets: dict[str, str] = {}
    for i, (workspace_id, scope) in enumerate(keys):
        secret = f"rk_live_{workspace_id[:4]:x<4}{i:028d}"
        secrets[workspace_id if scope is None else f"{workspace_id}:{scope.value}"] = secret
        by_hash[hash_secret(secret)] = ApiKey(
            key_id=f"key_{i}",
            workspace_id=workspace_id,
            name="test",
            mode="live",
            display_prefix=secret[:12],
            scopes=frozenset(Scope) if scope is None else frozenset({scope}),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            revoked_at=None,
        )
    return secrets, lambda secret: by_hash.get(hash_secret(secret))
