"""Pages cached for the embedded warehouse session the API holds: served again only while the data
cannot have changed, and only to the workspace that asked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from revops.api.cache import PageCache, RenderedPage
from revops.api.keys import Scope, create_key
from revops.api.main import create_app
from revops.api.queries import MartEndpoint
from revops.api.routes import marts
from revops.core.settings import Settings
from revops.core.warehouse import connect, ensure_databases
from tests.support import isolated_warehouse

TABLE = "marts.api_cache_rows"
URL = "/v1/cache/rows"


class CacheRow(BaseModel):
    workspace_id: str
    row_id: str
    amount: int


ENDPOINT = MartEndpoint(
    path="/cache/rows", table=TABLE, row=CacheRow, scope=Scope.ledger, order_by=("row_id",), summary="Rows"
)
# Another process writing while the API has let go of the warehouse, as a pipeline run would.
WRITER = textwrap.dedent(
    f"""
    from revops.core.warehouse import connect
    with connect(timeout_s=30) as client:
        client.command("INSERT INTO {TABLE} VALUES ('acme', 'row_from_a_run', 7)")
    """
)


def test_a_page_is_kept_per_session_and_key_within_its_byte_budget() -> None:
    cache = PageCache(max_bytes=10)
    cache.put(None, "unknown session", RenderedPage(b"1", 1))
    assert cache.get(None, "unknown session") is None
    cache.put((1, 1), "a", RenderedPage(b"aaaa", 1))
    cache.put((1, 1), "b", RenderedPage(b"bbbb", 1))
    assert cache.get((1, 1), "a") == RenderedPage(b"aaaa", 1)  # now the most recently used
    cache.put((1, 1), "c", RenderedPage(b"cccc", 1))  # 12 bytes > 10: the least recently used goes
    assert cache.get((1, 1), "b") is None
    assert cache.get((1, 1), "a") is not None and cache.get((1, 1), "c") is not None
    assert cache.get((2, 1), "a") is None  # another session never sees the first one's pages
    cache.put((2, 1), "d", RenderedPage(b"dd", 1))
    assert cache.get((1, 1), "a") is None
    cache.put((2, 1), "too big", RenderedPage(b"x" * 11, 1))
    assert cache.get((2, 1), "too big") is None


@pytest.fixture
def cache_api(revops_home: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    with isolated_warehouse(revops_home):
        with connect() as client:
            ensure_databases(client)
            client.command(
                f"CREATE TABLE {TABLE} (workspace_id String, row_id String, amount Int64) "
                "ENGINE = MergeTree ORDER BY (workspace_id, row_id)"
            )
            client.command(f"INSERT INTO {TABLE} VALUES ('acme', 'row_1', 1), ('globex', 'row_1', 2)")
            secrets = {ws: create_key(client, ws, [Scope.ledger]).secret for ws in ("acme", "globex")}
        headers = {ws: {"Authorization": f"Bearer {secret}"} for ws, secret in secrets.items()}
        app = create_app(Settings(api_embedded_idle_s=0.3), endpoints=[ENDPOINT])
        with TestClient(app) as client:
            yield client, headers


def row_ids(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    return [row["row_id"] for row in response.json()["data"]]


def test_a_repeated_request_is_served_without_a_query_and_only_to_its_workspace(
    cache_api: tuple[TestClient, dict[str, dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, headers = cache_api
    reads: list[str] = []
    fetch_page = marts.fetch_page

    def counting(*args: object) -> object:
        reads.append(args[3].workspace_id)  # type: ignore[attr-defined]
        return fetch_page(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(marts, "fetch_page", counting)
    first = client.get(URL, headers=headers["acme"])
    again = client.get(URL, headers=headers["acme"])
    other = client.get(URL, headers=headers["globex"])
    assert first.content == again.content
    assert [row["workspace_id"] for row in other.json()["data"]] == ["globex"]
    assert reads == ["acme", "globex"]


def test_a_write_by_other_code_in_the_process_is_seen_at_once(
    cache_api: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = cache_api
    assert row_ids(client, headers["acme"]) == ["row_1"]
    with connect() as warehouse:
        warehouse.command(f"INSERT INTO {TABLE} VALUES ('acme', 'row_2', 3)")
    assert row_ids(client, headers["acme"]) == ["row_1", "row_2"]


def test_a_run_writing_while_the_api_let_go_is_seen_afterwards(
    cache_api: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = cache_api
    assert row_ids(client, headers["acme"]) == ["row_1"]
    subprocess.run([sys.executable, "-c", WRITER], check=True, timeout=60)  # waits for the idle API
    assert row_ids(client, headers["acme"]) == ["row_1", "row_from_a_run"]


def test_a_busy_api_keeps_the_warehouse_when_no_run_waits(
    cache_api: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = cache_api
    pool = client.app.state.services.pool  # type: ignore[attr-defined]
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert row_ids(client, headers["acme"]) == ["row_1"]
    assert pool.sessions_opened == 1
