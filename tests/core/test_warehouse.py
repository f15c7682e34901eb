from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from revops.core import warehouse
from revops.core.settings import get_settings


def test_parse_chdb_url() -> None:
    target = warehouse.parse_warehouse_url("chdb:///var/lib/revops/warehouse")
    assert target.is_embedded and target.path == Path("/var/lib/revops/warehouse")


def test_parse_server_url_keeps_password_out_of_description() -> None:
    target = warehouse.parse_warehouse_url("https://bi%40corp:s3cr%2Ft@ch.example.com/analytics")
    assert (target.host, target.port, target.username, target.password, target.database, target.secure) == (
        "ch.example.com",
        8443,
        "bi@corp",
        "s3cr/t",
        "analytics",
        True,
    )
    assert "s3cr" not in target.describe()


@pytest.mark.parametrize("url", ["chdb://relative/path", "postgres://x", "http:///nohost"])
def test_rejects_unusable_urls(url: str) -> None:
    with pytest.raises(warehouse.WarehouseError):
        warehouse.parse_warehouse_url(url)


def test_default_is_embedded_under_home(revops_home: Path) -> None:
    assert warehouse.current_target().path == revops_home / "warehouse"


def test_connect_is_reentrant_within_a_process(revops_home: Path) -> None:
    with warehouse.connect() as outer, warehouse.connect() as inner:
        warehouse.ensure_databases(outer)
        inner.command("CREATE TABLE raw.t (x Int64) ENGINE = MergeTree ORDER BY x")
        inner.insert("raw.t", [[1], [2]], column_names=["x"])
        assert outer.command("SELECT sum(x) FROM raw.t") == 3
    with warehouse.connect() as again:
        assert again.command("SELECT count() FROM raw.t") == 2


HOLDER = textwrap.dedent(
    """
    import sys, time
    from revops.core.warehouse import connect
    with connect() as client:
        client.command("CREATE DATABASE IF NOT EXISTS raw")
        print("holding", flush=True)
        time.sleep(float(sys.argv[1]))
    """
)


def _hold_in_subprocess(seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_second_process_waits_for_the_first(revops_home: Path) -> None:
    holder = _hold_in_subprocess(1.5)
    started = time.monotonic()
    with warehouse.connect(timeout_s=30) as client:
        waited = time.monotonic() - started
        assert client.command("SELECT 1") == 1
    holder.wait(timeout=30)
    assert waited > 0.5, "the embedded warehouse must not be opened while another process holds it"


def test_lock_timeout_names_the_holder(revops_home: Path) -> None:
    holder = _hold_in_subprocess(10)
    try:
        with (
            pytest.raises(warehouse.WarehouseBusyError, match=rf"pid {holder.pid}\b"),
            warehouse.connect(timeout_s=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    # The lock dies with its process: the warehouse is usable again at once.
    with warehouse.connect(timeout_s=5) as client:
        assert client.command("SELECT 1") == 1


def test_settings_are_read_from_the_environment(revops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", "http://u:p@localhost:8123/db")
    get_settings.cache_clear()
    assert not warehouse.current_target().is_embedded
