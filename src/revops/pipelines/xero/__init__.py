"""dlt source for one Xero organisation (one revops workspace), built on dlt's `rest_api`.

Each endpoint is listed with `If-Modified-Since` set from a dlt incremental cursor on
`UpdatedDateUTC`, which Xero moves on every change (an invoice getting paid, voided, or a draft
deleted: Xero keeps such records in its lists with their `Status`), so a run fetches new and changed
records only. The header is an RFC 3339 UTC timestamp (`2026-10-19T08:15:02Z`), the `date-time`
format Xero's OpenAPI specification declares; real Xero accepts it (an earlier version of this
source sent an HTTP date, which the specification does not allow). Lists page by `page` (100 per
page) until `pagination.pageCount`; the chart of accounts comes whole. Every call names the
organisation in `Xero-tenant-id`. A record without `UpdatedDateUTC` is loaded, not dropped, and does
not move the cursor. Transient failures (429 with `Retry-After`, 5xx, bodies cut short) are retried
by the client's session (`pipelines/retry.py`).

Cursor values stay in Xero's own format (`/Date(1700000000000+0000)/`): always UTC, 13-digit
milliseconds until the year 2286, so comparing them as strings is comparing times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.source import DltSource
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator, SinglePagePaginator
from dlt.sources.rest_api import rest_api_resources

from revops.pipelines.loading import declare_contracts
from revops.pipelines.oauth import OAuth2RefreshTokenAuth, account_secrets, decimal_json, stamp
from revops.pipelines.retry import RetryingSession
from revops.pipelines.xero.helpers import if_modified_since, parse_xero_date
from revops.pipelines.xero.settings import (
    API_PATH,
    DEFAULT_API_BASE,
    DEFAULT_TOKEN_URL,
    ENDPOINTS,
    INITIAL_UPDATED_SINCE,
    XERO_TABLES,
    Endpoint,
    XeroAccount,
)

__all__ = ["XERO_TABLES", "declare_tables", "xero_source", "xero_source_for"]


def declare_tables(schema: dlt.Schema) -> None:
    """Declare the raw-table contracts so staging's columns exist before data has them."""
    declare_contracts(schema, {endpoint.table: (endpoint.columns, endpoint.key) for endpoint in ENDPOINTS})


def _paginator(endpoint: Endpoint) -> Any:
    if not endpoint.paged:
        return SinglePagePaginator()
    return PageNumberPaginator(base_page=1, page_param="page", total_path="pagination.pageCount")


def rewind(resources: dict[str, Any], since: datetime) -> None:
    """A backfill from `since` (the resources' dlt state, changed in place): each endpoint's
    `UpdatedDateUTC` cursor goes back to it, so `If-Modified-Since` lists what changed since then.
    Cursors only move back."""
    value = f"/Date({int(since.timestamp() * 1000)}+0000)/"
    for endpoint in ENDPOINTS:
        cursor = resources.get(endpoint.table, {}).get("incremental", {}).get("UpdatedDateUTC")
        if cursor and cursor.get("last_value") and parse_xero_date(cursor["last_value"]) > since:
            cursor["last_value"] = value
            cursor["unique_hashes"] = []


@dlt.source(name="xero", max_table_nesting=0)
def xero_source(
    workspace_id: str,
    tenant_id: str = dlt.config.value,
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
        provider="Xero",
        workspace_id=workspace_id,
    )
    add_lineage = stamp(workspace_id, datetime.now(UTC))
    return rest_api_resources(
        {
            "client": {
                "base_url": f"{api_base.rstrip('/')}/{API_PATH}/",
                "auth": auth,
                "headers": {"Accept": "application/json", "Xero-tenant-id": tenant_id},
                "session": RetryingSession(f"workspace {workspace_id!r}: Xero"),
            },
            "resource_defaults": {"write_disposition": "append", "max_table_nesting": 0},
            "resources": [
                {
                    "name": endpoint.table,
                    "table_name": endpoint.table,
                    "endpoint": {
                        "path": endpoint.name,
                        **({"params": dict(endpoint.params)} if endpoint.params else {}),
                        "headers": {"If-Modified-Since": "{incremental.start_value}"},
                        "data_selector": endpoint.name,
                        "paginator": _paginator(endpoint),
                        "incremental": {
                            "cursor_path": "UpdatedDateUTC",
                            "initial_value": INITIAL_UPDATED_SINCE,
                            "convert": if_modified_since,
                            "on_cursor_value_missing": "include",
                            # The raw id: the table's key names normalized columns, not yet present.
                            "primary_key": endpoint.id_field,
                        },
                        "response_actions": [decimal_json],
                    },
                    "processing_steps": [{"map": add_lineage}],
                }
                for endpoint in ENDPOINTS
            ],
        }
    )


def xero_source_for(workspace_id: str, account: XeroAccount) -> DltSource:
    """A workspace's Xero source: its account, secrets from it or from dlt."""
    return xero_source(
        workspace_id=workspace_id,
        tenant_id=account.tenant_id,
        api_base=account.api_base,
        token_url=account.token_url,
        **account_secrets(account),
    )
