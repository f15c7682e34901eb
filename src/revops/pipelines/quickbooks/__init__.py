"""dlt source for one QuickBooks Online company (one revops workspace), built on dlt's `rest_api`.

Every entity is read with the v3 query endpoint, `SELECT * FROM <Entity> WHERE
MetaData.LastUpdatedTime >= '<cursor>' ORDERBY Id`, paged by `STARTPOSITION`/`MAXRESULTS`, with a
dlt incremental cursor on `MetaData.LastUpdatedTime` per entity. QBO bumps that time on every
change (an invoice getting paid, a payment applied), so the cursor sees changed entities as well as
new ones. CDC (`/cdc`) reaches back 30 days only, so it cannot replace the query after a pause.

Known limit: dlt compares cursor values as strings, exactly as QBO sends them (local time with the
company's UTC offset). That is time order while the offset stays the same; for a realm on daylight
saving time, changes made in the repeated hour after the autumn switch can sort before the cursor
and be skipped until they change again. Normalizing the cursor to UTC before dlt sees it is the fix
(rest_api applies `incremental` before any processing step, so it needs a custom resource).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.source import DltSource
from dlt.sources.rest_api import rest_api_resources

from revops.pipelines.loading import declare_contracts
from revops.pipelines.oauth import OAuth2RefreshTokenAuth, account_secrets, decimal_json, stamp
from revops.pipelines.quickbooks.helpers import QueryPaginator, entity_query
from revops.pipelines.quickbooks.settings import (
    DEFAULT_API_BASE,
    DEFAULT_TOKEN_URL,
    ENTITIES,
    INITIAL_UPDATED_SINCE,
    KEY,
    MINOR_VERSION,
    PAGE_SIZE,
    QUICKBOOKS_TABLES,
    QuickBooksAccount,
)

__all__ = ["QUICKBOOKS_TABLES", "declare_tables", "quickbooks_source", "quickbooks_source_for"]


def declare_tables(schema: dlt.Schema) -> None:
    """Declare the raw-table contracts so staging's columns exist before data has them."""
    declare_contracts(schema, {entity.table: (entity.columns, KEY) for entity in ENTITIES})


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
    add_lineage = stamp(workspace_id, datetime.now(UTC))
    return rest_api_resources(
        {
            "client": {
                "base_url": f"{api_base.rstrip('/')}/v3/company/{realm_id}/",
                "auth": auth,
                "headers": {"Accept": "application/json"},
            },
            "resource_defaults": {"write_disposition": "append", "max_table_nesting": 0},
            "resources": [
                {
                    "name": entity.table,
                    "table_name": entity.table,
                    "endpoint": {
                        "path": "query",
                        "params": {"query": entity_query(entity.name), "minorversion": MINOR_VERSION},
                        "data_selector": f"QueryResponse.{entity.name}",
                        "paginator": QueryPaginator(PAGE_SIZE),
                        "incremental": {
                            "cursor_path": "MetaData.LastUpdatedTime",
                            "initial_value": INITIAL_UPDATED_SINCE,
                            # The raw id: the table's key names normalized columns, not yet present.
                            "primary_key": "Id",
                        },
                        "response_actions": [decimal_json],
                    },
                    "processing_steps": [{"map": add_lineage}],
                }
                for entity in ENTITIES
            ],
        }
    )


def quickbooks_source_for(workspace_id: str, account: QuickBooksAccount) -> DltSource:
    """A workspace's QuickBooks source: its account, secrets from it or from dlt."""
    return quickbooks_source(
        workspace_id=workspace_id,
        realm_id=account.realm_id,
        api_base=account.api_base,
        token_url=account.token_url,
        **account_secrets(account),
    )
