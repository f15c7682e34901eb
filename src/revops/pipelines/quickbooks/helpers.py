"""QuickBooks Online specifics the declarative rest_api config cannot express on its own."""

from __future__ import annotations

import re
from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

_PAGING = re.compile(r"\s+STARTPOSITION\s+\d+\s+MAXRESULTS\s+\d+\s*$", re.IGNORECASE)


class QueryPaginator(BasePaginator):
    """Pages a QBO query: paging is part of the SQL (`STARTPOSITION n MAXRESULTS m`), not a parameter.

    A page shorter than `page_size` is the last. The query must order by something stable (`Id`) so
    that positions do not shift between pages.
    """

    def __init__(self, page_size: int) -> None:
        super().__init__()
        self.page_size = page_size
        self.position = 1

    def init_request(self, request: Request) -> None:
        self.position = 1
        self._has_next_page = True
        self._set_paging(request)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        if not data or len(data) < self.page_size:
            self._has_next_page = False
        else:
            self.position += self.page_size

    def update_request(self, request: Request) -> None:
        self._set_paging(request)

    def _set_paging(self, request: Request) -> None:
        query = _PAGING.sub("", request.params["query"])
        request.params["query"] = f"{query} STARTPOSITION {self.position} MAXRESULTS {self.page_size}"


def entity_query(entity: str) -> str:
    """The query listing `entity` changed since the incremental cursor (inclusive: the boundary
    second is read again and dlt drops the rows it has already seen)."""
    return (
        f"SELECT * FROM {entity} WHERE MetaData.LastUpdatedTime >= '{{incremental.start_value}}' ORDERBY Id"
    )
