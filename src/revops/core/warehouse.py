"""The only module that builds ClickHouse clients.

`REVOPS_WAREHOUSE_URL` names the warehouse: `chdb:///abs/path` for the embedded engine (chDB, in
process) or `http(s)://user:pass@host:port/db` for a ClickHouse server. Both yield an ordinary
clickhouse-connect client, so callers run the same SQL everywhere.

chDB opens a data path in one process at a time, so embedded access is serialized across processes
by an advisory file lock held only while a `connect()` block runs. Inside one process the lock and
the engine are shared: nested or concurrent `connect()` calls reuse them.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from revops.core.settings import get_settings

DATABASES = ("raw", "staging", "marts")


class WarehouseError(RuntimeError):
    """A warehouse URL that cannot be used, or a warehouse that cannot be reached."""


class WarehouseBusyError(WarehouseError):
    """Another process held the embedded warehouse for longer than the lock timeout."""


@dataclass(frozen=True)
class WarehouseTarget:
    kind: Literal["chdb", "http"]
    path: Path | None = None
    host: str = "localhost"
    port: int = 8123
    username: str = "default"
    password: str = ""
    database: str = "default"
    secure: bool = False

    @property
    def is_embedded(self) -> bool:
        return self.kind == "chdb"

    def describe(self) -> str:
        """A human-readable location that never contains the password."""
        if self.is_embedded:
            return f"embedded ClickHouse (chDB) at {self.path}"
        scheme = "https" if self.secure else "http"
        return f"ClickHouse server {scheme}://{self.username}@{self.host}:{self.port}/{self.database}"


def parse_warehouse_url(url: str) -> WarehouseTarget:
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        raw_path = unquote(parsed.netloc + parsed.path)
        path = Path(raw_path)
        if not path.is_absolute():
            raise WarehouseError(f"chdb warehouse URL needs an absolute path (chdb:///abs/path), got {url!r}")
        return WarehouseTarget(kind="chdb", path=path)
    if parsed.scheme in ("http", "https"):
        if not parsed.hostname:
            raise WarehouseError(
                "ClickHouse server URL has no host: expected http(s)://user:pass@host:port/db"
            )
        secure = parsed.scheme == "https"
        return WarehouseTarget(
            kind="http",
            host=parsed.hostname,
            port=parsed.port or (8443 if secure else 8123),
            username=unquote(parsed.username or "default"),
            password=unquote(parsed.password or ""),
            database=parsed.path.strip("/") or "default",
            secure=secure,
        )
    raise WarehouseError(
        f"unsupported warehouse URL scheme {parsed.scheme!r}: use chdb:///abs/path or http(s)://host:port/db"
    )


def current_target() -> WarehouseTarget:
    return parse_warehouse_url(get_settings().resolved_warehouse_url)


class _EmbeddedLock:
    """Cross-process exclusive lock on one chDB data path; re-entrant and shared within a process."""

    def __init__(self, data_path: Path) -> None:
        self.lock_path = data_path.with_name(data_path.name + ".lock")
        self._guard = threading.Lock()
        self._holders = 0
        self._fd: int | None = None
        self.holder_changes = 0
        """How often a holder in this process has taken or let go of the lock. Unchanged while one holder
        keeps it, no other code in this process has had the warehouse open (and perhaps written to it)."""

    def acquire(self, timeout_s: float) -> None:
        with self._guard:
            if self._holders == 0:
                self._fd = self._wait_for_lock(timeout_s)
            self._holders += 1
            self.holder_changes += 1

    def release(self) -> None:
        with self._guard:
            self._holders -= 1
            self.holder_changes += 1
            if self._holders == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def others_waiting(self) -> bool:
        """Whether another process is waiting for this lock (it holds the waiters file shared)."""
        fd = self._open(self.waiters_path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also releases the probe's lock
        return False

    @property
    def waiters_path(self) -> Path:
        return self.lock_path.with_name(self.lock_path.name + ".waiters")

    def _open(self, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def _wait_for_lock(self, timeout_s: float) -> int:
        fd = self._open(self.lock_path)
        deadline = time.monotonic() + timeout_s
        waiting: int | None = None  # held shared while waiting, so a holder can tell someone waits
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = self._read_holder(fd)
                        os.close(fd)
                        raise WarehouseBusyError(
                            f"the embedded warehouse {self.lock_path.with_suffix('')} is in use by {holder}; "
                            f"waited {timeout_s:.0f}s. Let that process finish (or stop it) and try again, "
                            "or raise REVOPS_WAREHOUSE_LOCK_TIMEOUT_S."
                        ) from None
                    if waiting is None:
                        waiting = self._open(self.waiters_path)
                        fcntl.flock(waiting, fcntl.LOCK_SH)
                    time.sleep(0.05)
        finally:
            if waiting is not None:
                os.close(waiting)
        holder = (
            f"pid {os.getpid()} ({' '.join(sys.argv)[:200]}) since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        return fd

    @staticmethod
    def _read_holder(fd: int) -> str:
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        return text or "another process"


_locks: dict[Path, _EmbeddedLock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> _EmbeddedLock:
    with _locks_guard:
        # Not setdefault: that would build a lock object on every call, and the API asks per request.
        if path not in _locks:
            _locks[path] = _EmbeddedLock(path)
        return _locks[path]


def _build_client(target: WarehouseTarget, settings: dict | None) -> Client:
    if target.is_embedded:
        assert target.path is not None
        target.path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(interface="chdb", path=str(target.path), settings=settings)
    return clickhouse_connect.get_client(
        host=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        database=target.database,
        interface="https" if target.secure else "http",
        settings=settings,
    )


@contextmanager
def connect(
    url: str | None = None, *, timeout_s: float | None = None, settings: dict | None = None
) -> Iterator[Client]:
    """A clickhouse-connect client for the warehouse, closed (and the embedded lock released) on exit."""
    app_settings = get_settings()
    target = parse_warehouse_url(url or app_settings.resolved_warehouse_url)
    wait = app_settings.warehouse_lock_timeout_s if timeout_s is None else timeout_s
    lock = _lock_for(target.path) if target.is_embedded and target.path else None
    if lock:
        lock.acquire(wait)
    try:
        try:
            client = _build_client(target, settings)
        except Exception as exc:
            raise WarehouseError(f"cannot open {target.describe()}: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
    finally:
        if lock:
            lock.release()


def ensure_databases(client: Client) -> None:
    from revops.core.ddl import warehouse_dialect  # core.ddl builds on this module

    dialect = warehouse_dialect()
    for database in DATABASES:
        client.command(dialect.create_database(database))


@contextmanager
def hold_embedded_lock(timeout_s: float | None = None) -> Iterator[WarehouseTarget]:
    """Hold the embedded warehouse's lock (no client) while a child tool such as dbt uses it."""
    app_settings = get_settings()
    target = current_target()
    if not target.is_embedded or target.path is None:
        yield target
        return
    lock = _lock_for(target.path)
    lock.acquire(app_settings.warehouse_lock_timeout_s if timeout_s is None else timeout_s)
    try:
        yield target
    finally:
        lock.release()


def others_waiting_for(target: WarehouseTarget) -> bool:
    """Whether another process is waiting for the embedded warehouse (never, on a server)."""
    return target.is_embedded and target.path is not None and _lock_for(target.path).others_waiting()


def lock_holder_changes(target: WarehouseTarget) -> int:
    """How often holders in this process took or let go of the embedded warehouse's lock (0 on a server)."""
    return _lock_for(target.path).holder_changes if target.is_embedded and target.path is not None else 0


def open_client_for(target: WarehouseTarget, settings: dict | None = None) -> Client:
    """A client the caller closes itself; used by the dbt adapter shim, which manages connection lifetime."""
    return _build_client(target, settings)
