"""Every mart endpoint, enumerated from the OpenAPI spec (each table of an endpoint with variants, e.g.
usage per hour, day and month), against the session's simulated warehouse: all pages together are
exactly the workspace's rows, and a key never sees another workspace's rows, whatever the filters."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.api.keys import Scope
from revops.api.main import create_app
from revops.core.settings import Settings
from tests.api.conftest import memory_keys
from tests.conftest import SimulatedWarehouse
from tests.support import query

WORKSPACES = ("acme", "globex")
EMPTY_IN_THE_SHARED_WORLD = {"marts.agg_recovery_uplift", "marts.dunning_queue", "marts.fct_dunning_actions"}
"""Marts with no rows in the session's simulated world (no dunning job runs in it); every other endpoint
must return rows, so the tenancy tests below are never vacuous (test_tenancy_synthetic.py covers these
with synthetic rows)."""
EMPTY_FOR_ONE_WORKSPACE = {("marts.fct_ar_aging", "globex")}
"""(mart, workspace) with no rows in that world: globex has no receivable open at the as-of date."""


@dataclass(frozen=True)
class Endpoint:
    """One table an endpoint reads: with `params` selecting it when the endpoint has variants."""

    path: str
    table: str
    scope: str
    filters: dict[str, dict[str, str]]
    required: tuple[str, ...]
    params: dict[str, str]
    window_column: str | None
    """The column whose range `since`/`until`-like filters bound, for an endpoint with variants."""


@dataclass
class Api:
    client: TestClient
    secrets: dict[str, str]
    endpoints: list[Endpoint]

    def get(self, path: str, workspace_id: str, **params: Any) -> Any:
        return self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.secrets[workspace_id]}"}
        )

    def all_rows(self, path: str, workspace_id: str, **params: Any) -> list[dict]:
        rows: list[dict] = []
        cursor: str | None = None
        while True:
            page = self.get(path, workspace_id, limit=500, **params, **({"cursor": cursor} if cursor else {}))
            assert page.status_code == 200, page.text
            rows += page.json()["data"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return rows


def mart_endpoints(spec: dict) -> list[Endpoint]:
    endpoints = []
    for path, operations in spec["paths"].items():
        operation = operations.get("get", {})
        if "x-revops-mart" not in operation:
            continue
        mart = operation["x-revops-mart"]
        required = tuple(
            p["name"] for p in operation["parameters"] if p.get("required") and p["in"] == "query"
        )
        variants = mart.get("variants")
        tables = (
            {mart["table"]: {}}
            if variants is None
            else {table: {variants["param"]: value} for value, table in variants["tables"].items()}
        )
        window_column = variants and variants["window_column"]
        for table, params in tables.items():
            endpoints.append(
                Endpoint(path, table, mart["scope"], mart["filters"], required, params, window_column)
            )
    return endpoints


@pytest.fixture(scope="module")
def api(simulated_warehouse: SimulatedWarehouse) -> Iterator[Api]:
    secrets, lookup = memory_keys(*((workspace_id, None) for workspace_id in WORKSPACES))
    with simulated_warehouse.open():
        app = create_app(Settings(api_rate_limit_per_minute=1_000_000), key_lookup=lookup)
        with TestClient(app) as client:
            yield Api(client, secrets, mart_endpoints(client.get("/openapi.json").json()))


def as_param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def sample_row(endpoint: Endpoint, workspace_id: str) -> dict[str, Any]:
    """A row from the middle of the workspace's rows, with every filter column (all None if it has none:
    some marts, like the dunning queue, are empty in some worlds)."""
    columns = sorted({f["column"] for f in endpoint.filters.values()})
    count = query(
        f"SELECT count() AS n FROM {endpoint.table} WHERE workspace_id = {{ws:String}}", ws=workspace_id
    )
    if count[0]["n"] == 0:
        return dict.fromkeys(columns)
    rows = query(
        f"SELECT {', '.join(columns) or '1'} FROM {endpoint.table} WHERE workspace_id = {{ws:String}} "
        f"ORDER BY tuple(*) LIMIT 1 OFFSET {count[0]['n'] // 2}",
        ws=workspace_id,
    )
    return rows[0]


def month_around(endpoint: Endpoint, row: dict[str, Any]) -> dict[str, datetime]:
    """For an endpoint with variants (windows of different sizes), its window filters bounding the UTC
    month of the sampled row: every granularity has whole windows in a month, and paging through all
    of a year's hours would take minutes to prove nothing more."""
    start = row.get(endpoint.window_column or "")
    if start is None:
        return {}
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    bounds = {
        ">=": month,
        "<": month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1),
    }
    return {
        name: bounds[spec["op"]]
        for name, spec in endpoint.filters.items()
        if spec["column"] == endpoint.window_column and spec["op"] in bounds
    }


def filter_params(endpoint: Endpoint, row: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {
        name: as_param(row[endpoint.filters[name]["column"]])
        for name in names
        if row[endpoint.filters[name]["column"]] is not None
    }


def test_the_spec_lists_every_declared_endpoint(api: Api) -> None:
    from revops.api.routes import MART_ENDPOINTS

    assert sorted((e.path, e.table) for e in api.endpoints) == sorted(
        (f"/v1{e.path}", table) for e in MART_ENDPOINTS for table in e.tables
    )
    assert {e.scope for e in api.endpoints} <= {s.value for s in Scope}


@pytest.mark.parametrize("workspace_id", WORKSPACES)
def test_all_pages_are_exactly_the_workspaces_rows(
    api: Api, simulated_warehouse: SimulatedWarehouse, workspace_id: str
) -> None:
    for endpoint in api.endpoints:
        with simulated_warehouse.open():
            row = sample_row(endpoint, workspace_id)
            params = {
                **filter_params(endpoint, row, endpoint.required),
                **{name: as_param(bound) for name, bound in month_around(endpoint, row).items()},
            }
            where = " AND ".join(
                [
                    "workspace_id = {ws:String}",
                    *(
                        f"{endpoint.filters[name]['column']} {endpoint.filters[name]['op']} {{{name}:String}}"
                        for name in params
                    ),
                ]
            )
            expected = query(
                f"SELECT count() AS n FROM {endpoint.table} WHERE {where}", ws=workspace_id, **params
            )[0]["n"]
        rows = api.all_rows(endpoint.path, workspace_id, **endpoint.params, **params)
        assert len(rows) == expected, endpoint.table
        assert (
            rows
            or endpoint.table in EMPTY_IN_THE_SHARED_WORLD
            or (endpoint.table, workspace_id) in EMPTY_FOR_ONE_WORKSPACE
        ), f"{endpoint.table}: no rows to test"
        assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows), (
            f"{endpoint.path}: a row repeated"
        )
        assert {r["workspace_id"] for r in rows} <= {workspace_id}


@pytest.mark.parametrize(("reader", "other"), [("acme", "globex"), ("globex", "acme")])
def test_a_key_never_reads_another_workspace_whatever_the_filters(
    api: Api, simulated_warehouse: SimulatedWarehouse, reader: str, other: str
) -> None:
    """Every combination of every endpoint's filters, with values taken from the other workspace's
    rows (so a leak would match them), returns only the reader's rows."""
    for endpoint in api.endpoints:
        with simulated_warehouse.open():
            theirs = sample_row(endpoint, other)
        optional = [name for name in endpoint.filters if name not in endpoint.required]
        for size in range(len(optional) + 1):
            for names in itertools.combinations(optional, size):
                params = {
                    **endpoint.params,
                    **filter_params(endpoint, theirs, (*endpoint.required, *names)),
                }
                response = api.get(endpoint.path, reader, limit=500, **params)
                assert response.status_code == 200, (endpoint.path, params, response.text)
                leaked = [r for r in response.json()["data"] if r["workspace_id"] != reader]
                assert not leaked, (endpoint.path, params)
                if response.json()["has_more"]:  # and the next page, through the cursor
                    following = api.get(
                        endpoint.path, reader, limit=500, cursor=response.json()["next_cursor"], **params
                    )
                    assert {r["workspace_id"] for r in following.json()["data"]} <= {reader}


SERVED_VIEWS = {"marts.dim_connections"}
"""The one view the API reads: each connection's status over the load log, which must be current as
soon as a load ends (dbt does not run after a failed load). It aggregates only the asking workspace's
attempts (its grouping starts with workspace_id, so the tenancy filter is pushed down to the log)."""


def test_every_table_an_endpoint_reads_is_materialized(simulated_warehouse: SimulatedWarehouse) -> None:
    """A page is a read of stored rows, never a recomputation (a view over the usage states took
    2-8 s a page and failed under load), but for the connection status (SERVED_VIEWS)."""
    from revops.api.routes import INTERVAL_ENDPOINTS, MART_ENDPOINTS

    tables = sorted(
        {table for endpoint in MART_ENDPOINTS for table in endpoint.tables}
        | {table for endpoint in INTERVAL_ENDPOINTS for table in (endpoint.day_table, endpoint.month_table)}
    )
    with simulated_warehouse.open():
        engines = {
            f"marts.{row['name']}": row["engine"]
            for row in query("SELECT name, engine FROM system.tables WHERE database = 'marts'")
        }
    assert {
        table: engines.get(table)
        for table in tables
        if not engines.get(table, "").endswith("MergeTree") and table not in SERVED_VIEWS
    } == {}
    assert {table: engines.get(table) for table in SERVED_VIEWS} == dict.fromkeys(SERVED_VIEWS, "View")


@pytest.mark.parametrize(
    ("path", "currency"),
    [("/v1/metrics/mrr", "usd"), ("/v1/ledger/entries", "Gbp"), ("/v1/recovery/episodes", "usd")],
)
def test_currency_filters_take_either_case(api: Api, path: str, currency: str) -> None:
    workspace_id = "acme" if currency.upper() == "USD" else "globex"
    lower = api.all_rows(path, workspace_id, currency=currency)
    upper = api.all_rows(path, workspace_id, currency=currency.upper())
    assert lower and lower == upper
    assert {row["currency"] for row in lower} == {currency.upper()}


def test_a_closed_set_filter_takes_several_values(api: Api) -> None:
    """Repeating `movement_type` returns the rows of each value, as asking for each does, in order."""
    path = "/v1/metrics/mrr-movements"
    each = {kind: api.all_rows(path, "acme", movement_type=kind) for kind in ("new", "voluntary_churn")}
    assert each["new"] and each["voluntary_churn"]
    both = api.all_rows(path, "acme", movement_type=["voluntary_churn", "new"])
    key = lambda row: (row["movement_date"], row["customer_id"])  # noqa: E731 - the endpoint's order
    assert both == sorted(each["new"] + each["voluntary_churn"], key=key)
