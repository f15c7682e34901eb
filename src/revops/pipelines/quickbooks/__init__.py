"""dlt source for one QuickBooks Online company (one revops workspace).

One resource per entity (`helpers.sync_entity`): the first run lists every entity with the v3 query
endpoint (`SELECT * FROM <Entity> ORDERBY Id`, paged by `STARTPOSITION`/`MAXRESULTS`); later runs read
what changed through the change data capture operation (`/cdc?entities=<Entity>&changedSince=…`),
which also reports deletions — the only place QBO does: a deleted entity just vanishes from queries.
CDC reaches back 30 days and answers at most 1,000 objects, so after a longer pause (or a full answer)
the entity is listed again and the ids no longer listed are checked one by one; the ones still
missing are recorded as deleted. Deleted entities are soft deletes: a row with `is_deleted = true`
(QBO's stub: id, `status = Deleted`, the deletion time), never removed, so staging keeps their last
known values.

The cursor per entity is the newest `MetaData.LastUpdatedTime` loaded, compared as an instant in UTC
(QBO sends local time with an offset that changes with daylight saving time). It lives in dlt
resource state and moves only when the load succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource
from dlt.sources.helpers.rest_client import RESTClient

from revops.pipelines.loading import declare_contracts
from revops.pipelines.oauth import OAuth2RefreshTokenAuth, account_secrets, stamp
from revops.pipelines.quickbooks.helpers import DELETED, QuickBooksApi, SyncState, sync_entity
from revops.pipelines.quickbooks.settings import (
    DEFAULT_API_BASE,
    DEFAULT_TOKEN_URL,
    ENTITIES,
    KEY,
    QUICKBOOKS_TABLES,
    Entity,
    QuickBooksAccount,
)
from revops.pipelines.retry import RetryingSession

__all__ = ["QUICKBOOKS_TABLES", "declare_tables", "quickbooks_source", "quickbooks_source_for"]


def declare_tables(schema: dlt.Schema) -> None:
    """Declare the raw-table contracts so staging's columns exist before data has them."""
    declare_contracts(schema, {entity.table: (entity.columns, KEY) for entity in ENTITIES})


def _resource(api: QuickBooksApi, entity: Entity, synced_at: datetime, workspace_id: str) -> DltResource:
    add_lineage = stamp(workspace_id, synced_at)

    def rows() -> Iterator[list[dict[str, Any]]]:
        state = dlt.current.resource_state()
        sync = SyncState.load(state)
        changed = sync_entity(api, entity.name, sync)
        if changed:
            yield [add_lineage({**row, "is_deleted": row.get("status") == DELETED}) for row in changed]
        sync.save(state)

    return dlt.resource(
        rows, name=entity.table, table_name=entity.table, write_disposition="append", max_table_nesting=0
    )()


def rewind(resources: dict[str, Any], since: datetime) -> None:
    """A backfill from `since` (the resources' dlt state, changed in place): each entity's
    `LastUpdatedTime` cursor goes back to it, so CDC reads the changes since then — or, beyond CDC's
    30-day look-back, the entity is listed whole (deletions found by the ids it knows). Cursors only
    move back."""
    for entity in ENTITIES:
        state = resources.get(entity.table)
        if not state:
            continue
        sync = SyncState.load(state)
        if sync.cursor is not None and sync.cursor > since:
            sync.cursor, sync.at_cursor = since, set()
            sync.save(state)


@dlt.source(name="quickbooks", max_table_nesting=0)
def quickbooks_source(
    workspace_id: str,
    realm_id: str = dlt.config.value,
    api_base: str = DEFAULT_API_BASE,
    token_url: str = DEFAULT_TOKEN_URL,
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    refresh_token: str = dlt.secrets.value,
) -> Any:
    declare_tables(dlt.current.source_schema())
    auth = OAuth2RefreshTokenAuth(
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        provider="QuickBooks Online",
        workspace_id=workspace_id,
    )
    client = RESTClient(
        base_url=f"{api_base.rstrip('/')}/v3/company/{realm_id}/",
        headers={"Accept": "application/json"},
        auth=auth,
        session=RetryingSession(f"workspace {workspace_id!r}: QuickBooks Online"),
    )
    api = QuickBooksApi(workspace_id, client)
    synced_at = datetime.now(UTC)
    return [_resource(api, entity, synced_at, workspace_id) for entity in ENTITIES]


def quickbooks_source_for(workspace_id: str, account: QuickBooksAccount) -> DltSource:
    """A workspace's QuickBooks source: its account, secrets from it or from dlt."""
    return quickbooks_source(
        workspace_id=workspace_id,
        realm_id=account.realm_id,
        api_base=account.api_base,
        token_url=account.token_url,
        **account_secrets(account),
    )
