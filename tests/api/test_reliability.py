"""The API under load and abuse: a slow or saturated warehouse answers 503 with `Retry-After` (never a
500), one key cannot hold the whole pool, a flood of unknown keys costs no warehouse lookups, redirects
ignore the Host header, and test keys read test-mode workspaces only."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.api.auth import WORKSPACE_MODES_TABLE
from revops.api.keys import Scope, create_key
from revops.api.main import create_app
from revops.core.settings import Settings
from revops.core.warehouse import connect
from tests.api.conftest import PROBE, PROBE_TABLE, ProbeApi
from tests.api.test_machinery import assert_error
from tests.support import isolated_warehouse

SLOW_TABLE = "marts.api_probe_slow"
SLOW = dataclasses.replace(PROBE, path="/probe/slow", table=SLOW_TABLE)
"""Four rows per workspace through a view that sleeps 0.5 s for each: a 2 s query."""
FAST_URL, SLOW_URL = "/v1/probe/rows", "/v1/probe/slow"


@pytest.fixture(scope="module")
def keys(probe_api: ProbeApi) -> dict[str, str]:
    """The probe's keys, plus test and live keys of a test-mode (acme) and a live (globex) workspace
    and of one Stripe never described (initech); and the slow view."""
    with isolated_warehouse(probe_api.home), connect() as client:
        client.command(
            f"CREATE VIEW IF NOT EXISTS {SLOW_TABLE} AS SELECT workspace_id, row_id, occurred_at, "
            "occurred_on, currency, amount + sleepEachRow(0.5) AS amount "
            f"FROM {PROBE_TABLE} WHERE row_id < 'row_00004' SETTINGS max_block_size = 1"
        )
        client.command(
            f"CREATE TABLE IF NOT EXISTS {WORKSPACE_MODES_TABLE} "
            "(workspace_id String, is_livemode Bool, stripe_objects UInt64) "
            "ENGINE = MergeTree ORDER BY workspace_id"
        )
        client.command(
            f"INSERT INTO {WORKSPACE_MODES_TABLE} VALUES ('acme', false, 10), ('globex', true, 10)"
        )
        made = {
            f"{workspace}:{mode}": create_key(client, workspace, [Scope.ledger], mode=mode).secret
            for workspace in ("acme", "globex", "initech")
            for mode in ("live", "test")
        }
    return {**probe_api.keys, **made}


@contextmanager
def api(probe_api: ProbeApi, *, address: str = "testclient", **settings: Any) -> Iterator[TestClient]:
    with isolated_warehouse(probe_api.home):
        app = create_app(Settings(**{"api_key_cache_s": 0, **settings}), endpoints=[PROBE, SLOW])
        with TestClient(app, client=(address, 50000)) as client:
            yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def in_background(client: TestClient, url: str, headers: dict[str, str]) -> tuple[threading.Thread, list]:
    """Start a request in another thread; its response lands in the list."""
    responses: list = []
    thread = threading.Thread(target=lambda: responses.append(client.get(url, headers=headers)))
    thread.start()
    time.sleep(0.5)  # until it holds its warehouse client
    return thread, responses


def test_a_query_timeout_answers_503_with_retry_after(probe_api: ProbeApi, keys: dict[str, str]) -> None:
    with api(probe_api, api_query_timeout_s=1) as client:
        response = client.get(SLOW_URL, params={"limit": 10}, headers=bearer(keys["acme"]))
        assert client.get(FAST_URL, headers=bearer(keys["acme"])).status_code == 200, "and it recovers"
    assert_error(response, 503, "api_error", "query_timeout")
    assert int(response.headers["Retry-After"]) >= 1


def test_an_exhausted_pool_answers_503_with_retry_after(probe_api: ProbeApi, keys: dict[str, str]) -> None:
    with api(probe_api, api_pool_size=1, api_warehouse_wait_s=0.3) as client:
        thread, slow = in_background(client, SLOW_URL, bearer(keys["acme"]))
        response = client.get(FAST_URL, headers=bearer(keys["globex"]))
        thread.join()
    assert slow[0].status_code == 200
    assert_error(response, 503, "api_error", "warehouse_busy")
    assert int(response.headers["Retry-After"]) >= 1


def test_one_key_cannot_take_the_whole_pool(probe_api: ProbeApi, keys: dict[str, str]) -> None:
    with api(probe_api, api_pool_size=3, api_key_max_concurrent=1) as client:
        thread, slow = in_background(client, SLOW_URL, bearer(keys["acme"]))
        same_key = client.get(FAST_URL, headers=bearer(keys["acme"]))
        other_key = client.get(FAST_URL, headers=bearer(keys["globex"]))
        thread.join()
    assert slow[0].status_code == 200
    assert_error(same_key, 429, "rate_limit_error", "concurrency_limited")
    assert same_key.headers["Retry-After"] == "1"
    assert other_key.status_code == 200


def test_unknown_keys_are_limited_per_address_and_cost_no_lookup_when_flooding(
    probe_api: ProbeApi, keys: dict[str, str]
) -> None:
    with api(probe_api, address="203.0.113.7", api_auth_failures_per_minute=5, api_key_cache_s=0.5) as client:
        assert client.get(FAST_URL, headers=bearer(keys["acme"])).status_code == 200
        resolver = client.app.state.services.keys  # type: ignore[attr-defined]
        lookups: list[str] = []
        real_lookup = resolver.lookup
        resolver.lookup = lambda secret: lookups.append(secret) or real_lookup(secret)
        guesses = [
            client.get(FAST_URL, headers=bearer("rk_live_" + secrets.token_hex(16))) for _ in range(20)
        ]
        assert [r.status_code for r in guesses] == [401] * 5 + [429] * 15
        assert len(lookups) == 5, "once the address is limited, guesses are refused without a lookup"
        assert_error(guesses[-1], 429, "rate_limit_error", "rate_limited")
        assert 1 <= int(guesses[-1].headers["Retry-After"]) <= 12
        time.sleep(0.6)  # the good key's cache entry expires: it is looked up again, not refused
        assert client.get(FAST_URL, headers=bearer(keys["acme"])).status_code == 200
    with api(
        probe_api, address="198.51.100.2", api_auth_failures_per_minute=100, api_key_cache_s=60
    ) as client:
        resolver = client.app.state.services.keys  # type: ignore[attr-defined]
        lookups = []
        real_lookup = resolver.lookup
        resolver.lookup = lambda secret: lookups.append(secret) or real_lookup(secret)
        same = "rk_live_" + "q" * 32
        assert {client.get(FAST_URL, headers=bearer(same)).status_code for _ in range(10)} == {401}
        assert lookups == [same], "an unknown key presented again is answered from memory"
        assert client.get(FAST_URL, headers=bearer(keys["globex"])).status_code == 200


def test_redirects_are_built_from_configuration_not_the_host_header(
    probe_api: ProbeApi, keys: dict[str, str]
) -> None:
    request = {"headers": {**bearer(keys["acme"]), "Host": "attacker.example"}, "follow_redirects": False}
    with api(probe_api) as client:
        relative = client.get(f"{FAST_URL}/?limit=1", **request)  # type: ignore[arg-type]
        followed = client.get(f"{FAST_URL}/?limit=1", headers=bearer(keys["acme"]))
    with api(probe_api, api_public_url="https://api.revops.example/") as client:
        configured = client.get(f"{FAST_URL}/?limit=1", **request)  # type: ignore[arg-type]
    assert relative.status_code == 307 and relative.headers["location"] == f"{FAST_URL}?limit=1"
    assert configured.headers["location"] == f"https://api.revops.example{FAST_URL}?limit=1"
    assert "attacker" not in relative.headers["location"] + configured.headers["location"]
    assert followed.status_code == 200 and len(followed.json()["data"]) == 1


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("acme:test", 200),  # a test-mode workspace
        ("acme:live", 200),
        ("globex:test", 403),  # live data
        ("globex:live", 200),
        ("initech:test", 403),  # nothing says it is test mode
    ],
)
def test_test_keys_read_test_mode_workspaces_only(
    probe_api: ProbeApi, keys: dict[str, str], key: str, status: int
) -> None:
    with api(probe_api) as client:
        response = client.get(FAST_URL, headers=bearer(keys[key]))
    if status == 403:
        assert_error(response, 403, "permission_error", "test_key_for_live_workspace")
    else:
        assert response.status_code == status, response.text
