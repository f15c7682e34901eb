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

from revops.api.main import create_app
from revops.api.warehouse import WarehousePool
from revops.core.settings import Settings, get_settings
from revops.core.warehouse import WarehouseBusyError, WarehouseError, current_target, parse_warehouse_url

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
    stop = threading.Event()
    failures: list[Exception] = []

    def keep_busy() -> None:
        while not stop.is_set():
            try:
                with pool.lease() as client:
                    client.command("SELECT 1")
            except WarehouseBusyError:
                pass  # the pipeline had it for longer than wait_s: the API said 503, which is fine
            except Exception as exc:
                failures.append(exc)
                return

    with pool.lease() as client:
        client.command("SELECT 1")
    workers = [threading.Thread(target=keep_busy) for _ in range(3)]
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
