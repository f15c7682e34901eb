"""The API's warehouse clients: a pool for a server, a held-while-busy session for the embedded engine.

Both hand out one clickhouse-connect client per request (`lease()`); a client is never used by two
threads at once. Clients are built by `core.warehouse`.

On the embedded warehouse (chDB) the API must share the data directory with pipeline runs, which take
the warehouse lock in another process. Opening chDB costs ~0.06 s (0.4 s the first time in a process),
too much per request, so the pool takes the lock on the first request and keeps its clients open while
requests keep coming. It lets go when idle for `api_embedded_idle_s`, and, however busy, as soon as
another process waits for the lock: it stops handing out clients, lets the requests in flight finish
(each bounded by the query timeout), closes, and pauses for `YIELD_S` so that the waiting process gets
it. A run that takes the lock many times therefore waits for the API only for the requests in flight
each time (milliseconds), never for a hold period per acquisition. (Without a waiter it keeps the
warehouse, and with it `api.cache`'s pages: closing for nobody only stalls requests.) A request that
finds the lock held by a run waits up to `api_warehouse_wait_s` and then fails with
`WarehouseBusyError`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from clickhouse_connect.driver.client import Client

from revops.core.settings import Settings
from revops.core.warehouse import (
    WarehouseBusyError,
    WarehouseError,
    WarehouseTarget,
    hold_embedded_lock,
    lock_holder_changes,
    open_client_for,
    others_waiting_for,
    parse_warehouse_url,
)

# Longer than core.warehouse's lock polling interval (50 ms), so a waiting process sees the lock free.
YIELD_S = 0.2
JANITOR_INTERVAL_S = 0.1


class WarehousePool:
    def __init__(
        self,
        target: WarehouseTarget,
        *,
        size: int,
        wait_s: float,
        idle_s: float,
        query_timeout_s: int,
        build_client: Callable[[WarehouseTarget, dict[str, Any]], Client] = open_client_for,
    ) -> None:
        self.target = target
        self.size = size
        self.wait_s = wait_s
        self.idle_s = idle_s
        self._build_client = build_client
        # A page is a small in-order read: one thread each lets concurrent requests share the cores
        # instead of every query spreading over all of them.
        self._client_settings: dict[str, Any] = {"max_execution_time": query_timeout_s, "max_threads": 1}
        if target.is_embedded:
            # The engine is writable in process; the API's sessions are not. A server user is made
            # read-only by its grants instead (deploy/clickhouse/users.d), where re-setting this would fail.
            self._client_settings["readonly"] = 2
        self._cond = threading.Condition()
        self._idle: list[Client] = []
        self._leased = 0
        self._session: ExitStack | None = None
        self._last_used = 0.0
        self._draining = False
        self._reopen_after = 0.0
        self._janitor: threading.Thread | None = None
        self.sessions_opened = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehousePool:
        return cls(
            parse_warehouse_url(settings.resolved_warehouse_url),
            size=settings.api_pool_size,
            wait_s=settings.api_warehouse_wait_s,
            idle_s=settings.api_embedded_idle_s,
            query_timeout_s=settings.api_query_timeout_s,
        )

    @property
    def holds_embedded_warehouse(self) -> bool:
        return self._session is not None

    @property
    def session_generation(self) -> tuple[int, int] | None:
        """Which embedded session is open (None on a server, or when none is). The warehouse's data
        does not change during one: another process must take the lock to write, and other code in this
        one that opens the warehouse changes the generation (when it takes the lock and again when it
        lets go, so nothing read while it held the lock outlives it)."""
        if self._session is None:
            return None
        return self.sessions_opened, lock_holder_changes(self.target)

    def mark_used(self) -> None:
        """Record a request answered from the session without a client (a cached page), so that an API
        busy with such requests does not count as idle."""
        with self._cond:
            self._last_used = time.monotonic()

    @contextmanager
    def lease(self) -> Iterator[Client]:
        client = self._checkout()
        healthy = False
        try:
            yield client
            healthy = True
        finally:
            self._checkin(client, healthy)

    def _checkout(self) -> Client:
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while True:
                now = time.monotonic()
                if not self._draining and now >= self._reopen_after:
                    if self.target.is_embedded and self._session is None:
                        self._open_session(max(deadline - now, 0.0))
                    if self._idle:
                        client = self._idle.pop()
                        break
                    if self._leased < self.size:
                        client = self._new_client()
                        break
                remaining = deadline - now
                if remaining <= 0:
                    raise WarehouseBusyError(
                        f"no warehouse client became free within {self.wait_s:g}s "
                        f"({self._leased} in use, pool size {self.size})"
                    )
                wake_at = self._reopen_after if now < self._reopen_after else deadline
                self._cond.wait(min(remaining, max(wake_at - now, 0.005)))
            self._leased += 1
            return client

    def _checkin(self, client: Client, healthy: bool) -> None:
        with self._cond:
            self._leased -= 1
            self._last_used = time.monotonic()
            if healthy and (self._session is not None or not self.target.is_embedded):
                self._idle.append(client)
            else:
                client.close()
            if self._draining and not self._leased:  # a waiting process gets the warehouse now
                self._release_if_due(self._last_used)
            self._cond.notify_all()

    def _new_client(self) -> Client:
        try:
            return self._build_client(self.target, self._client_settings)
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"cannot open {self.target.describe()}: {exc}") from exc

    def _open_session(self, wait_s: float) -> None:
        session = ExitStack()
        session.enter_context(hold_embedded_lock(timeout_s=wait_s))
        self._session = session
        self._last_used = time.monotonic()
        self.sessions_opened += 1
        self._ensure_janitor()

    def _close_session(self) -> None:
        """Close every client and release the lock; called with `_cond` held and nothing leased."""
        for client in self._idle:
            client.close()
        self._idle.clear()
        if self._session is not None:
            self._session.close()
            self._session = None
        self._cond.notify_all()

    def _ensure_janitor(self) -> None:
        if self._janitor is None or not self._janitor.is_alive():
            self._janitor = threading.Thread(
                target=self._watch_session, name="api-warehouse-janitor", daemon=True
            )
            self._janitor.start()

    def _watch_session(self) -> None:
        while True:
            time.sleep(JANITOR_INTERVAL_S)
            with self._cond:
                if self._session is None:
                    return
                self._release_if_due(time.monotonic())

    def _release_if_due(self, now: float) -> None:
        """Let go of the embedded warehouse when idle, or (draining first) when another process waits
        for it."""
        with self._cond:
            if self._session is None:
                return
            wanted = self._draining or others_waiting_for(self.target)
            if wanted:
                self._draining = True
            if self._leased:
                return
            if wanted or now - self._last_used >= self.idle_s:
                self._close_session()
                if self._draining:
                    self._draining = False
                    self._reopen_after = now + YIELD_S

    def close(self) -> None:
        """Close every client (and let go of the embedded warehouse) once no request uses one; a later
        request opens them again."""
        with self._cond:
            while self._leased:
                self._cond.wait(1.0)
            self._close_session()
