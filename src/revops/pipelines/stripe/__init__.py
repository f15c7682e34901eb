"""dlt source for one Stripe account (one revops workspace), through the official `stripe` SDK.

New objects are listed incrementally by `created`. Stripe objects also change after creation
(an invoice gets paid, a subscription cancels), which a `created` cursor never sees, so the
`object_changes` resource reads `/v1/events` since its own cursor and re-fetches the objects they
name, and every `resync_days` re-lists every mutable endpoint in full: events reach back only 30
days, and some changes (a balance transaction becoming available) emit none.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import dlt
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.pipelines.loading import RAW_DATABASE, declare_table
from revops.pipelines.quarantine import QUARANTINE_TABLE, declare_quarantine
from revops.pipelines.stripe.helpers import StripeApi, invalid_reason, rejected_record
from revops.pipelines.stripe.settings import (
    ENDPOINTS,
    ENDPOINTS_BY_RESOURCE,
    EVENTS_RETENTION_DAYS,
    EVENTS_SAFETY_MARGIN_DAYS,
    INVOICE_LINE_ITEM_COLUMNS,
    INVOICE_LINE_ITEMS_TABLE,
    MAX_CHANGED_IDS_TO_RETRIEVE,
    PAYMENT_METHODS,
    PAYMENT_METHODS_TABLE,
    PAYOUT_CONTENTS_COLUMNS,
    PAYOUT_CONTENTS_PATH,
    PAYOUT_CONTENTS_TABLE,
    SUBSCRIPTION_ITEM_COLUMNS,
    SUBSCRIPTION_ITEMS_TABLE,
    Endpoint,
    StripeAccount,
)

PRIMARY_KEY = ("workspace_id", "id")
CHANGES_RESOURCE = "object_changes"
DAY_S = 86_400
MUTABLE_ENDPOINTS = tuple(endpoint for endpoint in ENDPOINTS if endpoint.mutable)
ENDPOINT_BY_EVENT_OBJECT = {
    endpoint.event_object: endpoint for endpoint in (*ENDPOINTS, PAYMENT_METHODS) if endpoint.event_object
}
# A parent's child lists: (embedded field, child table, path and params of the full list). An embedded
# list is fetched further only when `has_more`; one the parent does not embed (field None) is always
# listed (a customer's cards).
CHILD_LISTS: dict[str, tuple[str | None, str, str, dict[str, str]]] = {
    "subscriptions": ("items", SUBSCRIPTION_ITEMS_TABLE, "/v1/subscription_items", {"subscription": "{id}"}),
    "invoices": ("lines", INVOICE_LINE_ITEMS_TABLE, "/v1/invoices/{id}/lines", {}),
    "customers": (None, PAYMENT_METHODS_TABLE, "/v1/customers/{id}/payment_methods", {}),
}


class _Extraction:
    """Turns pages of Stripe objects of one account into per-table batches of rows."""

    def __init__(self, api: StripeApi) -> None:
        self.api = api

    def batches(self, endpoint: Endpoint, objects: Iterable[dict[str, Any]]) -> Iterator[Any]:
        """Rows for the endpoint's table, its child tables and the quarantine (what it rejects)."""
        tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        rejected: list[dict[str, Any]] = []
        for record in objects:
            reason = invalid_reason(endpoint, record)
            if reason:
                rejected.append(rejected_record(self.api.workspace_id, endpoint, record, reason))
                continue
            synced_at = datetime.now(UTC)
            row = self._with_lineage(record, synced_at)
            for field in endpoint.decimal_fields:
                if row.get(field) is not None:
                    row[field] = Decimal(str(row[field]))
            tables[endpoint.table].append(row)
            # A deleted object has no child lists left to read (Stripe answers 404 for them).
            if endpoint.resource in CHILD_LISTS and row.get("deleted") is not True:
                child_table, children = self._children(endpoint.resource, row, synced_at)
                tables[child_table].extend(children)
        for table, rows in tables.items():
            yield dlt.mark.with_table_name(rows, table)
        if rejected:
            yield dlt.mark.with_table_name(rejected, QUARANTINE_TABLE)

    def payout_contents(self, payouts: Iterable[dict[str, Any]]) -> Iterator[Any]:
        """What each valid automatic payout of `payouts` paid out (PAYOUT_CONTENTS_TABLE rows)."""
        rows: list[dict[str, Any]] = []
        for payout in payouts:
            if not payout.get("automatic") or invalid_reason(ENDPOINTS_BY_RESOURCE["payouts"], payout):
                continue  # Stripe itemizes automatic payouts only; a rejected one is quarantined
            synced_at = datetime.now(UTC)
            for page in self.api.list_pages(PAYOUT_CONTENTS_PATH, {"payout": payout["id"]}):
                for transaction in page:
                    columns = {name: transaction.get(name) for name in PAYOUT_CONTENTS_COLUMNS}
                    rows.append(
                        self._with_lineage(
                            {**columns, "id": transaction["id"], "payout": payout["id"]}, synced_at
                        )
                    )
        if rows:
            yield dlt.mark.with_table_name(rows, PAYOUT_CONTENTS_TABLE)

    def _with_lineage(self, record: dict[str, Any], synced_at: datetime) -> dict[str, Any]:
        return {**record, "workspace_id": self.api.workspace_id, "_revops_synced_at": synced_at}

    def _children(
        self, resource: str, parent: dict[str, Any], synced_at: datetime
    ) -> tuple[str, list[dict[str, Any]]]:
        """The parent's complete child list, stamped with the parent's sync time (see staging)."""
        field, table, path, params = CHILD_LISTS[resource]
        embedded = (parent.get(field) if field else None) or {}
        children = list(embedded.get("data", []))
        if field is None or embedded.get("has_more"):
            query = {name: value.format(id=parent["id"]) for name, value in params.items()}
            pages = self.api.list_pages(path.format(id=parent["id"]), query)
            children = [child for page in pages for child in page]
        return table, [self._with_lineage(child, synced_at) for child in children]


def declare_tables(schema: dlt.Schema) -> None:
    """Declare the raw-table contracts up front so staging's columns exist before data has them."""
    for endpoint in ENDPOINTS:
        declare_table(schema, endpoint.table, endpoint.columns, PRIMARY_KEY, resource=endpoint.resource)
    declare_table(
        schema, SUBSCRIPTION_ITEMS_TABLE, SUBSCRIPTION_ITEM_COLUMNS, PRIMARY_KEY, resource="subscriptions"
    )
    declare_table(
        schema, INVOICE_LINE_ITEMS_TABLE, INVOICE_LINE_ITEM_COLUMNS, PRIMARY_KEY, resource="invoices"
    )
    # Keyed by the balance transaction: an automatic payout pays each one out once.
    declare_table(schema, PAYOUT_CONTENTS_TABLE, PAYOUT_CONTENTS_COLUMNS, PRIMARY_KEY, resource="payouts")
    declare_table(schema, PAYMENT_METHODS_TABLE, PAYMENT_METHODS.columns, PRIMARY_KEY, resource="customers")
    # Any resource may reject records into the quarantine; dlt's metrics attribute it to the tracker.
    declare_quarantine(schema, resource=CHANGES_RESOURCE)


def _list_resource(extraction: _Extraction, endpoint: Endpoint) -> DltResource:
    def list_new_objects(
        created: dlt.sources.incremental[int] = dlt.sources.incremental(
            "created", initial_value=0, on_cursor_value_missing="include"
        ),
    ) -> Iterator[Any]:
        params = endpoint.list_query
        if created.last_value:
            # gte: objects created in the same second as the cursor may not have been listed yet.
            params["created"] = {"gte": created.last_value}
        for page in extraction.api.list_pages(endpoint.path, params):
            yield from extraction.batches(endpoint, page)
            if endpoint.resource == "payouts":
                yield from extraction.payout_contents(page)

    return dlt.resource(
        list_new_objects, name=endpoint.resource, table_name=endpoint.table, parallelized=True
    )()


def _object_changes(extraction: _Extraction, resync_days: int) -> DltResource:
    api = extraction.api

    def object_changes() -> Iterator[Any]:
        state = dlt.current.resource_state()
        provider_now = api.latest_event_created()
        if provider_now is None:
            return
        if "events_cursor" not in state:
            # First run: the list resources load everything; changes are tracked from here on.
            state["events_cursor"] = provider_now
            state["last_full_sync"] = dict.fromkeys((e.resource for e in MUTABLE_ENDPOINTS), provider_now)
            return
        cursor: int = state["events_cursor"]
        last_full_sync: dict[str, int] = state.setdefault("last_full_sync", {})
        events_expired = provider_now - cursor > (EVENTS_RETENTION_DAYS - EVENTS_SAFETY_MARGIN_DAYS) * DAY_S
        changed: dict[str, set[str]] = defaultdict(set)
        # The last state of each object a `<object>.deleted` event announces (newest event first).
        last_states: dict[str, dict[str, Any]] = {}
        if not events_expired:
            for page in api.list_pages("/v1/events", {"created": {"gte": cursor}}):
                for event in page:
                    changed_object = (event.get("data") or {}).get("object") or {}
                    endpoint = ENDPOINT_BY_EVENT_OBJECT.get(changed_object.get("object"))
                    if endpoint and isinstance(changed_object.get("id"), str):
                        changed[endpoint.resource].add(changed_object["id"])
                        if event.get("type") == f"{endpoint.event_object}.deleted":
                            last_states.setdefault(changed_object["id"], changed_object)
                        owner = changed_object.get("customer")
                        if endpoint is PAYMENT_METHODS and isinstance(owner, str):
                            # Attaching a card changes the customer's list of cards.
                            changed["customers"].add(owner)
                    cursor = max(cursor, int(event.get("created") or cursor))
        for endpoint in MUTABLE_ENDPOINTS:
            ids = changed.get(endpoint.resource, set())
            resync_due = provider_now - last_full_sync.get(endpoint.resource, 0) >= resync_days * DAY_S
            if events_expired or resync_due or len(ids) > MAX_CHANGED_IDS_TO_RETRIEVE:
                listed: set[str] = set()
                for page in api.list_pages(endpoint.path, endpoint.list_query):
                    listed.update(obj.get("id") for obj in page if isinstance(obj, dict))
                    yield from extraction.batches(endpoint, page)
                last_full_sync[endpoint.resource] = provider_now
                # Lists omit deleted objects: the ones events announced deleted are recorded as such.
                gone = {object_id for object_id in ids if object_id in last_states} - listed
                if gone:
                    yield from extraction.batches(endpoint, _retrieved(api, endpoint, gone, last_states))
            elif ids:
                yield from extraction.batches(endpoint, _retrieved(api, endpoint, ids, last_states))
        cards = changed.get(PAYMENT_METHODS.resource)
        if cards:
            yield from extraction.batches(
                PAYMENT_METHODS, _retrieved(api, PAYMENT_METHODS, cards, last_states)
            )
        state["events_cursor"] = max(cursor, state["events_cursor"]) if not events_expired else provider_now

    return dlt.resource(object_changes, name=CHANGES_RESOURCE, parallelized=True)()


def _retrieved(
    api: StripeApi, endpoint: Endpoint, ids: set[str], last_states: dict[str, dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """The objects `ids` as Stripe serves them now; a deleted one as its last state marked deleted.

    Stripe answers a deleted customer or deleted draft invoice with a stub (`{id, object, deleted:
    true}`), and an object it no longer has at all with 404; either way the row keeps the last state
    the deletion event carried, so raw records the deletion instead of losing (or rejecting) the
    object.
    """
    for object_id in sorted(ids):
        found = api.retrieve(endpoint.path, object_id, endpoint.retrieve_query)
        last_state = last_states.get(object_id)
        if found is None:
            if last_state is not None:
                yield {**last_state, "deleted": True}
        elif found.get("deleted") is True:
            yield {**(last_state or {}), **found}
        else:
            yield found


def rewind(resources: dict[str, Any], since: datetime) -> None:
    """A backfill from `since` (the resources' dlt state, changed in place): every list resource lists
    objects created at or after it again, and the change tracker reads events from it — or, when
    `since` is older than Stripe keeps events, re-lists every mutable object in full. Cursors only move
    back: one already before `since` stays."""
    moment = int(since.timestamp())
    for endpoint in ENDPOINTS:
        cursor = resources.get(endpoint.resource, {}).get("incremental", {}).get("created")
        if cursor and (cursor.get("last_value") or 0) > moment:
            cursor["last_value"] = moment
            cursor["unique_hashes"] = []
    changes = resources.get(CHANGES_RESOURCE, {})
    if "events_cursor" in changes:
        changes["events_cursor"] = min(changes["events_cursor"], moment)


@dlt.source(name="stripe", max_table_nesting=0)
def stripe_source(
    workspace_id: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    api_base: str = "https://api.stripe.com",
    resync_days: int = 7,
) -> Iterable[DltResource]:
    """Stripe objects of one account; every row carries `workspace_id`.

    Args:
        workspace_id: the revops tenant this account belongs to.
        api_key: a secret or restricted key with read access.
        api_base: Stripe's API address (a simulator's, in tests and the demo).
        resync_days: days between full re-syncs of mutable objects.
    """
    declare_tables(dlt.current.source_schema())
    extraction = _Extraction(StripeApi(workspace_id, api_key, api_base))
    yield from (_list_resource(extraction, endpoint) for endpoint in ENDPOINTS)
    yield _object_changes(extraction, resync_days)


REFERENCED_CUSTOMERS_RESOURCE = "referenced_customers"
CUSTOMERS = ENDPOINTS_BY_RESOURCE["customers"]
# The raw tables whose objects name a customer (`customer`, an id: the source never expands it).
CUSTOMER_REFERENCES = tuple(
    endpoint.table for endpoint in ENDPOINTS if endpoint is not CUSTOMERS and "customer" in endpoint.columns
)


def unknown_customer_ids(workspace_id: str) -> list[str]:
    """Customers the workspace's raw objects name that raw does not know: neither loaded (live or
    deleted) nor quarantined (a rejected customer waits for `revops quarantine release`)."""
    references = " UNION ALL ".join(
        f"SELECT customer FROM {RAW_DATABASE}.{table} WHERE workspace_id = {{ws:String}}"
        for table in CUSTOMER_REFERENCES
    )
    with connect() as client:
        rows = client.query(
            f"SELECT DISTINCT customer FROM ({references}) "
            "WHERE customer IS NOT NULL AND customer != '' "
            f"AND customer NOT IN (SELECT id FROM {RAW_DATABASE}.{CUSTOMERS.table} "
            "WHERE workspace_id = {ws:String}) "
            f"AND customer NOT IN (SELECT record_id FROM {RAW_DATABASE}.{QUARANTINE_TABLE} "
            "WHERE workspace_id = {ws:String} AND table_name = {customers:String}) "
            "ORDER BY customer",
            parameters={"ws": workspace_id, "customers": CUSTOMERS.table},
        ).result_rows
    return [row[0] for row in rows]


@dlt.source(name="stripe", max_table_nesting=0)
def stripe_referenced_customers_source(
    customer_ids: list[str],
    workspace_id: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    api_base: str = "https://api.stripe.com",
) -> Iterable[DltResource]:
    """The customers `customer_ids` (named by loaded objects, unknown to raw) retrieved by id.

    Stripe's lists omit deleted customers, and its events reach back 30 days, so a customer deleted
    before the first load (or before events the tracker read) is seen by no list and no event, while
    its invoices, charges and subscriptions still name it. Retrieve answers the deleted stub
    (`{id, object: "customer", deleted: true}`), which lands as a deleted customer (the path the
    tracker's deletions take); a live one, which lists should not have omitted, lands as it is.
    """
    declare_tables(dlt.current.source_schema())
    extraction = _Extraction(StripeApi(workspace_id, api_key, api_base))

    def referenced_customers() -> Iterator[Any]:
        yield from extraction.batches(CUSTOMERS, _retrieved(extraction.api, CUSTOMERS, set(customer_ids), {}))

    yield dlt.resource(referenced_customers, name=REFERENCED_CUSTOMERS_RESOURCE)()


def referenced_customers_source_for(workspace_id: str, account: StripeAccount) -> DltSource | None:
    """After a load (the runner's follow-up): the source retrieving the customers raw's objects name but
    raw lacks, or None when there are none — so a load whose references are all known retrieves
    nothing.

    A step after the load rather than a resource of `stripe_source`: the resources of one extract run
    in parallel, so none of them sees this load's whole customer list before the objects naming
    customers are all extracted, while raw (this load's rows and every earlier one's) knows both. It
    also picks up what a load that died before this step left unresolved.
    """
    customer_ids = unknown_customer_ids(workspace_id)
    if not customer_ids:
        return None
    secrets = {"api_key": account.api_key.get_secret_value()} if account.api_key else {}
    return stripe_referenced_customers_source(
        customer_ids, workspace_id=workspace_id, api_base=account.api_base, **secrets
    )


REFETCH_RESOURCE = "quarantine_release"


@dlt.source(name="stripe", max_table_nesting=0)
def stripe_refetch_source(
    records: list[tuple[str, str, str | None]],
    workspace_id: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    api_base: str = "https://api.stripe.com",
) -> Iterable[DltResource]:
    """The quarantined objects `records` ((raw table, object id, payload as received)) fetched again
    from Stripe by id, for `revops quarantine release`: each now valid lands in its table (with its
    child lists), each still invalid back in the quarantine with today's reason, one Stripe no longer
    has nowhere. An object without a Stripe id cannot be fetched: its rejection stands."""
    declare_tables(dlt.current.source_schema())
    extraction = _Extraction(StripeApi(workspace_id, api_key, api_base))
    by_table = {endpoint.table: endpoint for endpoint in ENDPOINTS}

    def quarantine_release() -> Iterator[Any]:
        for table, object_id, payload in records:
            endpoint = by_table[table]
            if not object_id.startswith(endpoint.id_prefixes):
                received = json.loads(payload) if payload else None
                yield dlt.mark.with_table_name(
                    [
                        rejected_record(
                            workspace_id, endpoint, received, "no Stripe id to fetch the object again by"
                        )
                    ],
                    QUARANTINE_TABLE,
                )
                continue
            found = extraction.api.retrieve(endpoint.path, object_id, endpoint.retrieve_query)
            if found is not None:
                yield from extraction.batches(endpoint, [found])

    yield dlt.resource(quarantine_release, name=REFETCH_RESOURCE)()


def refetch_source_for(
    workspace_id: str, account: StripeAccount, records: list[tuple[str, str, str | None]]
) -> DltSource:
    """`stripe_refetch_source` for a workspace's account (its key as `stripe_source_for` resolves it)."""
    secrets = {"api_key": account.api_key.get_secret_value()} if account.api_key else {}
    return stripe_refetch_source(records, workspace_id=workspace_id, api_base=account.api_base, **secrets)


def stripe_source_for(workspace_id: str, account: StripeAccount) -> DltSource:
    """A workspace's Stripe source: its key from the registry when it has one, else resolved by dlt."""
    secrets = {"api_key": account.api_key.get_secret_value()} if account.api_key else {}
    return stripe_source(
        workspace_id=workspace_id,
        api_base=account.api_base,
        resync_days=get_settings().stripe_resync_days,
        **secrets,
    )
