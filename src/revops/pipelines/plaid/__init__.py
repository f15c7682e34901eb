"""dlt source for one workspace's bank data through Plaid (one or more Items, one access token each).

Transactions come from `/transactions/sync`: each Item's cursor lives in the resource state and
advances only once a whole update (every page until `has_more` is false) has been read, so a run
that dies mid-update reads it again from the start. When Plaid reports that the Item changed
between two pages, the update restarts from its first cursor, as Plaid requires. Removed
transactions are kept as soft deletes (`is_removed = true`), never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from revops.pipelines.loading import declare_contracts
from revops.pipelines.plaid.helpers import MutationDuringPagination, PlaidApi, PlaidSourceError, token_label
from revops.pipelines.plaid.settings import (
    ACCOUNT_COLUMNS,
    ACCOUNT_KEY,
    ACCOUNTS_TABLE,
    DEFAULT_API_BASE,
    ITEM_COLUMNS,
    ITEM_KEY,
    ITEMS_TABLE,
    MAX_PAGINATION_RESTARTS,
    PLAID_TABLES,
    SYNC_PAGE_SIZE,
    TRANSACTION_COLUMNS,
    TRANSACTION_KEY,
    TRANSACTIONS_TABLE,
    PlaidAccount,
)

__all__ = ["PLAID_TABLES", "declare_tables", "plaid_source", "plaid_source_for"]

TABLES = {
    ITEMS_TABLE: (ITEM_COLUMNS, ITEM_KEY),
    ACCOUNTS_TABLE: (ACCOUNT_COLUMNS, ACCOUNT_KEY),
    TRANSACTIONS_TABLE: (TRANSACTION_COLUMNS, TRANSACTION_KEY),
}


def declare_tables(schema: dlt.Schema) -> None:
    """Declare the raw-table contracts up front so staging's columns exist before data has them."""
    declare_contracts(schema, TABLES)


def _lineage(workspace_id: str, row: dict[str, Any], synced_at: datetime) -> dict[str, Any]:
    return {**row, "workspace_id": workspace_id, "_revops_synced_at": synced_at}


def _account_row(account: dict[str, Any], item_id: str) -> dict[str, Any]:
    balances = account.get("balances") or {}
    return {
        **account,
        "item_id": item_id,
        "balance_current": balances.get("current"),
        "balance_available": balances.get("available"),
        "balance_limit": balances.get("limit"),
        "iso_currency_code": balances.get("iso_currency_code"),
        "unofficial_currency_code": balances.get("unofficial_currency_code"),
    }


def _read_update(
    api: PlaidApi, access_token: str, cursor: str, page_size: int
) -> tuple[list[dict[str, Any]], str]:
    """Every page of one update from `cursor`: (changes as rows, the cursor after it)."""
    for _ in range(MAX_PAGINATION_RESTARTS + 1):
        rows: list[dict[str, Any]] = []
        page_cursor = cursor
        try:
            while True:
                page = api.sync(access_token, page_cursor, page_size)
                rows += [{**txn, "is_removed": False} for txn in page.get("added", [])]
                rows += [{**txn, "is_removed": False} for txn in page.get("modified", [])]
                # A removal carries only ids; the row's other columns stay null (staging keeps
                # the last known values of a removed transaction).
                rows += [{**txn, "is_removed": True} for txn in page.get("removed", [])]
                page_cursor = page["next_cursor"]
                if not page.get("has_more"):
                    return rows, page_cursor
        except MutationDuringPagination:
            # Plaid: restart the whole update from its first cursor, not the failed page.
            continue
    raise PlaidSourceError(
        f"workspace {api.workspace_id!r} ({token_label(access_token)}): transactions kept changing "
        f"during pagination; {MAX_PAGINATION_RESTARTS} restarts did not get a consistent update"
    )


def _resources(
    workspace_id: str, api: PlaidApi, access_tokens: list[str], page_size: int
) -> list[DltResource]:
    item_ids: dict[str, str] = {}

    def item_id_of(access_token: str) -> str:
        if access_token not in item_ids:
            item_ids[access_token] = api.item(access_token)["item"]["item_id"]
        return item_ids[access_token]

    def items() -> Iterator[dict[str, Any]]:
        for token in access_tokens:
            item = api.item(token)["item"]
            item_ids[token] = item["item_id"]
            yield _lineage(workspace_id, item, datetime.now(UTC))

    def accounts() -> Iterator[list[dict[str, Any]]]:
        for token in access_tokens:
            response = api.accounts(token)
            item_ids[token] = response["item"]["item_id"]
            synced_at = datetime.now(UTC)
            yield [
                _lineage(workspace_id, _account_row(account, item_ids[token]), synced_at)
                for account in response.get("accounts", [])
            ]

    def transactions() -> Iterator[list[dict[str, Any]]]:
        # Cursor per Item, keyed by item id: a re-issued access token for the same Item keeps it.
        cursors: dict[str, str] = dlt.current.resource_state().setdefault("cursors", {})
        for token in access_tokens:
            item_id = item_id_of(token)
            rows, next_cursor = _read_update(api, token, cursors.get(item_id, ""), page_size)
            synced_at = datetime.now(UTC)
            if rows:
                yield [_lineage(workspace_id, {**row, "item_id": item_id}, synced_at) for row in rows]
            # Only now, with the whole update read, does the Item's cursor move.
            cursors[item_id] = next_cursor

    return [
        dlt.resource(items, name=ITEMS_TABLE, table_name=ITEMS_TABLE)(),
        dlt.resource(accounts, name=ACCOUNTS_TABLE, table_name=ACCOUNTS_TABLE)(),
        dlt.resource(transactions, name=TRANSACTIONS_TABLE, table_name=TRANSACTIONS_TABLE)(),
    ]


def rewind(resources: dict[str, Any], since: datetime) -> None:
    """A backfill (the resources' dlt state, changed in place): `/transactions/sync` cursors are opaque
    and start nowhere but the beginning, so each Item's transactions are read again from the first
    cursor — the Item's whole history, whatever `since` is; items and accounts are read whole on every
    run anyway. Rows merge on their key, so reading more than `since` changes nothing twice."""
    resources.get(TRANSACTIONS_TABLE, {}).pop("cursors", None)


@dlt.source(name="plaid", max_table_nesting=0)
def plaid_source(
    workspace_id: str = dlt.config.value,
    client_id: str = dlt.secrets.value,
    secret: str = dlt.secrets.value,
    access_tokens: list[str] = dlt.secrets.value,
    api_base: str = DEFAULT_API_BASE,
    page_size: int = SYNC_PAGE_SIZE,
) -> Iterable[DltResource]:
    """Items, accounts (with balances) and transactions of one workspace's banks; rows carry `workspace_id`.

    Args:
        workspace_id: the revops tenant these Items belong to.
        client_id, secret: the Plaid client's credentials.
        access_tokens: one per Item (bank login) of the workspace.
        api_base: Plaid's API address (a simulator's, in tests and the demo).
        page_size: transactions per /transactions/sync page (Plaid allows at most 500).
    """
    declare_tables(dlt.current.source_schema())
    if isinstance(access_tokens, str):
        access_tokens = [access_tokens]  # a single token from the environment
    api = PlaidApi(workspace_id, api_base, client_id, secret)
    return _resources(workspace_id, api, list(access_tokens), page_size)


def plaid_source_for(workspace_id: str, account: PlaidAccount) -> DltSource:
    """A workspace's Plaid source: secrets from the registry when it has them, else resolved by dlt."""
    secrets: dict[str, Any] = {}
    if account.client_id:
        secrets["client_id"] = account.client_id
    if account.secret:
        secrets["secret"] = account.secret.get_secret_value()
    if account.access_tokens:
        secrets["access_tokens"] = [token.get_secret_value() for token in account.access_tokens]
    return plaid_source(workspace_id=workspace_id, api_base=account.api_base, **secrets)
