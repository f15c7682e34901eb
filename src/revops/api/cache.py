"""Response pages already read from the embedded warehouse, kept for as long as its data cannot change.

While the API holds the embedded warehouse (`WarehousePool.session_generation`), no pipeline run can
write to it: a run must take the warehouse lock first (and code in the API's own process that opens
the warehouse changes the generation). A page read during one session is therefore exact until that
session ends, and a later session starts an empty cache. A page is cached under its
`TenantQuery.cache_key` (the SQL and every bound parameter, the key's workspace among them), so it is
only ever served again for the same workspace's same request. On a server, writers are other
processes, so nothing is cached there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class RenderedPage:
    """A page's response body, and the headers that say how current it is (`Freshness.headers`)."""

    body: bytes
    rows: int
    headers: tuple[tuple[str, str], ...] = ()


class PageCache:
    """The least recently used pages of one warehouse session, `max_bytes` of bodies at most; a page
    stored in another session is never returned."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Hashable, RenderedPage] = OrderedDict()
        self._bytes = 0
        self._session: Hashable | None = None
        self._lock = threading.Lock()

    def get(self, session: Hashable | None, key: Hashable) -> RenderedPage | None:
        with self._lock:
            if session is None or session != self._session or key not in self._pages:
                return None
            self._pages.move_to_end(key)
            return self._pages[key]

    def put(self, session: Hashable | None, key: Hashable, page: RenderedPage) -> None:
        if session is None or len(page.body) > self.max_bytes:
            return
        with self._lock:
            if session != self._session:
                self._pages.clear()
                self._bytes = 0
                self._session = session
            if key in self._pages:
                return
            self._pages[key] = page
            self._bytes += len(page.body)
            while self._bytes > self.max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted.body)
