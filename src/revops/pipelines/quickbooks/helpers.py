"""Reading one QuickBooks Online company: the v3 query and change data capture (CDC) operations, and
the per-entity sync that chooses between them.

Cursors are instants in UTC. QBO writes `MetaData.LastUpdatedTime` in the company's local time with
its offset (`2026-11-01T01:10:00-08:00`); compared as text, a change made in the hour that repeats
when daylight saving time ends sorts before a cursor set in the same hour an offset earlier
(`…01:40:00-07:00`) and would be skipped. Every comparison here parses the instant first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient
from requests import Response

from revops.pipelines.errors import SourceError
from revops.pipelines.quickbooks.settings import CDC_LOOKBACK, CDC_MAX_OBJECTS, MINOR_VERSION, PAGE_SIZE

DELETED = "Deleted"
"""QBO's entity status on the stub CDC returns for a deleted entity."""
CONFIRM_BATCH = 100
"""Ids per `WHERE Id IN (…)` query when checking entities a re-listing no longer shows."""


def qbo_instant(text: str) -> datetime:
    """A QBO timestamp (ISO 8601 with the company's UTC offset) as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"QuickBooks timestamp without an offset: {text!r}")
    return moment.astimezone(UTC)


def updated_at(entity: dict[str, Any]) -> datetime | None:
    """The entity's `MetaData.LastUpdatedTime` in UTC, None when missing or unreadable."""
    meta = entity.get("MetaData")
    text = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return qbo_instant(text)
    except ValueError:
        return None


class QuickBooksApi:
    """Query and CDC calls for one company; transient failures are retried by the client's session."""

    def __init__(self, workspace_id: str, client: RESTClient) -> None:
        self.workspace_id = workspace_id
        self._client = client

    def _get(self, path: str, params: dict[str, str]) -> tuple[Response, dict[str, Any]]:
        response = self._client.get(path, params={**params, "minorversion": MINOR_VERSION})
        try:
            # Decimal keeps money exact.
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            body = {}
        return response, body if isinstance(body, dict) else {}

    def _refused(self, what: str, response: Response, body: dict[str, Any]) -> SourceError:
        errors = (body.get("Fault") or {}).get("Error") or [{}]
        detail = "; ".join(str(e.get("Detail") or e.get("Message") or "") for e in errors).strip("; ")
        return SourceError(
            f"workspace {self.workspace_id!r}: QuickBooks Online refused {what} "
            f"(HTTP {response.status_code}{': ' + detail if detail else ''})"
        )

    def query(self, sql: str, entity: str) -> Iterator[tuple[list[dict[str, Any]], datetime | None]]:
        """Every page of `sql` (paged with STARTPOSITION/MAXRESULTS), with the server time of each."""
        position = 1
        while True:
            paged = f"{sql} STARTPOSITION {position} MAXRESULTS {PAGE_SIZE}"
            response, body = self._get("query", {"query": paged})
            if response.status_code != 200:
                raise self._refused(f"the query {sql!r}", response, body)
            page = (body.get("QueryResponse") or {}).get(entity) or []
            yield page, _server_time(body)
            if len(page) < PAGE_SIZE:
                return
            position += PAGE_SIZE

    def changes(self, entity: str, since: datetime) -> list[dict[str, Any]] | None:
        """Entities changed or deleted after `since` (CDC), or None when CDC cannot answer completely:
        `since` is beyond its look-back, or the response is full and may have left changes out."""
        response, body = self._get("cdc", {"entities": entity, "changedSince": since.isoformat()})
        if response.status_code == 400:
            server_time = _server_time(body)
            if server_time is not None and since < server_time - CDC_LOOKBACK:
                return None
        if response.status_code != 200:
            raise self._refused(f"CDC for {entity} since {since.isoformat()}", response, body)
        changed: list[dict[str, Any]] = []
        for result in body.get("CDCResponse") or []:
            for query_response in result.get("QueryResponse") or []:
                changed += query_response.get(entity) or []
        return None if len(changed) >= CDC_MAX_OBJECTS else changed

    def still_there(self, entity: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        """Those of `ids` the company still has (re-read), the others being deleted."""
        ids = sorted(ids, key=lambda value: (len(value), value))
        found = []
        for start in range(0, len(ids), CONFIRM_BATCH):
            batch = ", ".join(f"'{entity_id}'" for entity_id in ids[start : start + CONFIRM_BATCH])
            for page, _ in self.query(f"SELECT * FROM {entity} WHERE Id IN ({batch})", entity):
                found += page
        return found


def _server_time(body: dict[str, Any]) -> datetime | None:
    try:
        return qbo_instant(body["time"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class SyncState:
    """What the source remembers per entity (dlt resource state): the cursor as a UTC instant, the
    entities already loaded at exactly that instant, and the ids known to exist (to notice deletions
    when CDC cannot be used)."""

    cursor: datetime | None
    at_cursor: set[str]
    known: set[str]

    @classmethod
    def load(cls, state: MutableMapping[str, Any]) -> SyncState:
        cursor = state.get("cursor")
        return cls(
            datetime.fromisoformat(cursor) if cursor else None,
            set(state.get("at_cursor", [])),
            set(state.get("known", [])),
        )

    def save(self, state: MutableMapping[str, Any]) -> None:
        state["cursor"] = self.cursor.isoformat() if self.cursor is not None else None
        state["at_cursor"] = sorted(self.at_cursor)
        state["known"] = sorted(self.known, key=lambda value: (len(value), value))


def tombstone(entity_id: str) -> dict[str, Any]:
    """The row recording that an entity is gone when QBO no longer shows it (no CDC stub to copy)."""
    return {"Id": entity_id, "status": DELETED}


def sync_entity(api: QuickBooksApi, entity: str, state: SyncState) -> list[dict[str, Any]]:
    """The entity's rows to load since `state` (which is advanced in place), deletions included.

    Within CDC's look-back, CDC from one second before the cursor (QBO times are whole seconds; the
    entities already loaded at the cursor are dropped). Otherwise — the first run, a pause of more than
    30 days, or a CDC response too full to trust — the whole entity is listed with the query, and ids
    known before but no longer listed are read once more by id: those still missing are deleted.
    """
    changed = api.changes(entity, state.cursor - timedelta(seconds=1)) if state.cursor else None
    if changed is not None:
        rows = [row for row in changed if not _already_loaded(row, state)]
        cursor = max((t for row in changed if (t := updated_at(row)) is not None), default=state.cursor)
    else:
        rows, started = [], None
        for page, server_time in api.query(f"SELECT * FROM {entity} ORDERBY Id", entity):
            rows += page
            started = started or server_time
        listed = {str(row.get("Id")) for row in rows}
        vanished = state.known - listed
        back = api.still_there(entity, vanished) if vanished else []
        rows += back
        rows += [tombstone(entity_id) for entity_id in sorted(vanished - {str(r.get("Id")) for r in back})]
        # Resume from when the listing started: what changed while it ran is read again next time.
        cursor = started or max((t for row in rows if (t := updated_at(row)) is not None), default=None)
    for row in rows:
        entity_id = str(row.get("Id"))
        if row.get("status") == DELETED:
            state.known.discard(entity_id)
        else:
            state.known.add(entity_id)
    if cursor is not None and cursor != state.cursor:
        state.at_cursor = set()
    state.cursor = cursor
    state.at_cursor |= {str(row.get("Id")) for row in rows if _in_last_second(row, cursor)}
    return rows


def _in_last_second(row: dict[str, Any], cursor: datetime | None) -> bool:
    """Whether the row's time is within the second up to the cursor, which the next CDC reads again."""
    moment = updated_at(row)
    return cursor is not None and moment is not None and cursor - timedelta(seconds=1) < moment <= cursor


def _already_loaded(row: dict[str, Any], state: SyncState) -> bool:
    return _in_last_second(row, state.cursor) and str(row.get("Id")) in state.at_cursor
