"""The API's warehouse pool: sharing the embedded warehouse with pipeline processes, and a bounded pool
of server clients."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.api.keys import Scope, create_key
from revops.api.main import create_app
from revops.api.warehouse import WarehousePool
from revops.core.settings import Settings, get_settings
from revops.core.warehouse import (
    WarehouseBusyError,
    WarehouseError,
    connect,
    current_target,
    ensure_databases,
    parse_warehouse_url,
)
from tests.api.conftest import PROBE, PROBE_TABLE, ProbeRow, probe_rows

# A pipeline run stand-in: takes the warehouse in another process (waiting for it as runs do).
PIPELINE = textwrap.dedent(
    """
    import sys, time
    from revops.core.warehouse import connect
    with connect(timeout_s=30) as client:
        client.command("CREATE DATABASE IF NOT EXISTS raw")
        print("holding", flush=True)
        time.sleep(float(sys.argv[1]))
    print("released", flush=True)
    """
)


def start_pipeline(seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PIPELINE, str(seconds)], stdout=subprocess.PIPE, text=True)


def embedded_pool(**overrides: Any) -> WarehousePool:
    options: dict[str, Any] = {
        "size": 4,
        "wait_s": 10.0,
        "idle_s": 0.3,
        "query_timeout_s": 10,
    }
    return WarehousePool(current_target(), **(options | overrides))


def test_the_api_waits_for_a_pipeline_run_holding_the_warehouse(revops_home: Path) -> None:
    pipeline = start_pipeline(1.0)
    assert pipeline.stdout is not None and pipeline.stdout.readline().strip() == "holding"
    pool = embedded_pool()
    started = time.monotonic()
    with pool.lease() as client:
        assert client.command("SELECT 1") == 1
        waited = time.monotonic() - started
    pool.close()
    pipeline.wait(timeout=30)
    assert waited > 0.3


def test_the_api_answers_503_when_a_run_holds_the_warehouse_too_long(revops_home: Path) -> None:
    pipeline = start_pipeline(30)
    try:
        assert pipeline.stdout is not None and pipeline.stdout.readline().strip() == "holding"
        app = create_app(Settings(api_warehouse_wait_s=0.2))
        with TestClient(app) as client:
            response = client.get("/readyz")
    finally:
        pipeline.kill()
        pipeline.wait()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "warehouse_busy"
    assert response.headers["Retry-After"]


def test_an_idle_api_lets_a_pipeline_run_in(revops_home: Path) -> None:
    pool = embedded_pool(idle_s=0.3)
    with pool.lease() as client:
        client.command("SELECT 1")
    assert pool.holds_embedded_warehouse
    pipeline = start_pipeline(0.1)
    assert pipeline.stdout is not None and pipeline.stdout.readline().strip() == "holding"
    assert not pool.holds_embedded_warehouse
    pipeline.wait(timeout=30)
    with pool.lease() as client:  # and takes the warehouse back afterwards
        assert client.command("SELECT 2") == 2
    assert pool.sessions_opened == 2
    pool.close()


def test_a_busy_api_still_lets_a_waiting_pipeline_run_in(revops_home: Path) -> None:
    pool = embedded_pool(idle_s=60)
    stop, failures = threading.Event(), []
    with pool.lease() as client:
        client.command("SELECT 1")
    workers = [threading.Thread(target=keep_leasing, args=(pool, stop, failures)) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        pipeline = start_pipeline(0.2)
        assert pipeline.stdout is not None
        assert pipeline.stdout.readline().strip() == "holding"
        assert pipeline.stdout.readline().strip() == "released"
        pipeline.wait(timeout=30)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    pool.close()
    assert not failures
    assert pool.sessions_opened >= 2


def keep_leasing(pool: WarehousePool, stop: threading.Event, failures: list[Exception]) -> None:
    """A client of the API that never pauses."""
    while not stop.is_set():
        try:
            with pool.lease() as client:
                client.command("SELECT 1")
        except WarehouseBusyError:
            pass  # the run held the warehouse longer than wait_s: a 503, which is fine
        except Exception as exc:
            failures.append(exc)
            return


class FakeClient:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False

    def close(self) -> None:
        self.closed = True


def server_pool(built: list[FakeClient], **overrides: Any) -> WarehousePool:
    def build(target: Any, settings: dict[str, Any]) -> Any:
        assert "readonly" not in settings, "a server user is read-only by its grants"
        built.append(FakeClient(len(built)))
        return built[-1]

    options: dict[str, Any] = {"size": 2, "wait_s": 0.2, "idle_s": 1, "query_timeout_s": 10}
    return WarehousePool(
        parse_warehouse_url("http://api:pw@127.0.0.1:9/db"), build_client=build, **(options | overrides)
    )


def test_a_server_pool_reuses_at_most_size_clients() -> None:
    built: list[FakeClient] = []
    pool = server_pool(built)
    with pool.lease() as first, pool.lease() as second:
        assert first is not second
        with pytest.raises(WarehouseBusyError, match="pool size 2"), pool.lease():
            pass
    for _ in range(5):
        with pool.lease():
            pass
    assert len(built) == 2
    pool.close()
    assert all(client.closed for client in built)


def test_a_client_that_failed_is_replaced() -> None:
    built: list[FakeClient] = []
    pool = server_pool(built)
    with pytest.raises(RuntimeError), pool.lease():
        raise RuntimeError("connection reset")
    assert built[0].closed
    with pool.lease() as client:
        assert client is built[1]


def test_an_unreachable_server_is_a_warehouse_error() -> None:
    def refuse(target: Any, settings: dict[str, Any]) -> Any:
        raise OSError("connection refused")

    pool = WarehousePool(
        parse_warehouse_url("http://127.0.0.1:9/db"),
        size=1,
        wait_s=0,
        idle_s=1,
        query_timeout_s=1,
        build_client=refuse,
    )
    with pytest.raises(WarehouseError, match="cannot open ClickHouse server"), pool.lease():
        pass


def test_pool_settings_come_from_revops_settings(revops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_API_POOL_SIZE", "3")
    monkeypatch.setenv("REVOPS_API_WAREHOUSE_WAIT_S", "1.5")
    get_settings.cache_clear()
    pool = WarehousePool.from_settings(get_settings())
    assert (pool.size, pool.wait_s, pool.target.is_embedded) == (3, 1.5, True)


# A pipeline run stand-in that takes the warehouse `steps` times, between work that needs none (as
# extraction does), and prints how long it waited for the lock in all.
MANY_STEPS = textwrap.dedent(
    """
    import sys, time
    from revops.core.warehouse import hold_embedded_lock
    waited = 0.0
    for _ in range(int(sys.argv[1])):
        started = time.monotonic()
        with hold_embedded_lock(timeout_s=60):
            waited += time.monotonic() - started
        time.sleep(0.3)
    print(f"{waited:.3f}", flush=True)
    """
)


def test_a_run_taking_the_warehouse_many_times_waits_for_a_busy_api_a_bounded_total(
    revops_home: Path,
) -> None:
    """Under continuous load the API lets go as soon as a process waits, every time: a run of eight
    steps waits for it about as long as the requests in flight take, not a hold period per step."""
    pool = embedded_pool(idle_s=60, wait_s=30)
    stop, failures = threading.Event(), []
    with pool.lease() as client:
        client.command("SELECT 1")
    workers = [threading.Thread(target=keep_leasing, args=(pool, stop, failures)) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        run = subprocess.run(
            [sys.executable, "-c", MANY_STEPS, "8"], capture_output=True, text=True, timeout=120, check=True
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    pool.close()
    assert not failures
    assert pool.sessions_opened >= 8, "the API took the warehouse back between the run's steps"
    # Each wait is the janitor's tick, the requests in flight and, at worst, the API reopening chDB on a
    # loaded machine: well under a second. The API used to keep the warehouse up to 30 s each time.
    assert float(run.stdout) < 8 * 1.0, f"the run waited {run.stdout.strip()} s in all for 8 steps"


# `revops api-keys revoke KEY_ID`, reporting how long it waited for the warehouse lock (the rest of its
# time, imports and opening chDB, is the machine's speed, not the API's doing).
REVOKE = textwrap.dedent(
    """
    import sys, time
    import revops.core.warehouse as warehouse
    from revops.cli.main import app
    waits = []
    wait_for_lock = warehouse._EmbeddedLock._wait_for_lock
    def timed(lock, timeout_s):
        started = time.monotonic()
        try:
            return wait_for_lock(lock, timeout_s)
        finally:
            waits.append(time.monotonic() - started)
    warehouse._EmbeddedLock._wait_for_lock = timed
    try:
        app(["api-keys", "revoke", sys.argv[1]])
    except SystemExit as exit:
        assert not exit.code, exit.code
    print(f"{sum(waits):.3f}")
    """
)


def test_a_revoked_key_stops_working_within_the_key_cache_time_under_load(revops_home: Path) -> None:
    """`revops api-keys revoke` while clients keep the API busy: the command gets the warehouse at once,
    and within `api_key_cache_s` of it returning the key is refused."""
    cache_s = 1.0
    with connect() as client:
        ensure_databases(client)
        client.command(
            f"CREATE TABLE {PROBE_TABLE} (workspace_id String, row_id String, "
            "occurred_at DateTime64(3, 'UTC'), occurred_on Date, currency String, amount Int64) "
            "ENGINE = MergeTree ORDER BY (workspace_id, row_id)"
        )
        client.insert(PROBE_TABLE, probe_rows("acme", 10), column_names=list(ProbeRow.model_fields))
        created = create_key(client, "acme", [Scope.ledger])
    headers = {"Authorization": f"Bearer {created.secret}"}
    statuses: list[tuple[float, int]] = []
    stop = threading.Event()
    app = create_app(Settings(api_key_cache_s=cache_s, api_embedded_idle_s=60), endpoints=[PROBE])
    with TestClient(app) as api:

        def keep_asking() -> None:
            while not stop.is_set():
                status = api.get("/v1/probe/rows", params={"limit": 1}, headers=headers).status_code
                statuses.append((time.monotonic(), status))

        clients = [threading.Thread(target=keep_asking) for _ in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(1.0)
        revoke = subprocess.run(
            [sys.executable, "-c", REVOKE, created.key.key_id], capture_output=True, text=True, timeout=120
        )
        revoked = time.monotonic()
        time.sleep(cache_s + 1.0)
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
    assert revoke.returncode == 0, revoke.stdout + revoke.stderr
    waited = float(revoke.stdout.strip().splitlines()[-1])
    assert {status for _, status in statuses[:10]} == {200}
    # The API lets go for any waiting process once its requests in flight finish; it used to keep the
    # warehouse for up to 30 s (api_embedded_max_hold_s) while busy.
    assert waited < 5, f"`revops api-keys revoke` waited {waited:.1f} s for the busy API"
    late = [status for at, status in statuses if at > revoked + cache_s + 0.2]
    # Refused: 401, then 429 once the client address has presented the revoked key too often.
    assert late and 401 in late and 200 not in late, f"{late.count(200)} served after the cache expired"
