"""Every declared endpoint (each table of one with variants) over synthetic rows of two workspaces: a
key pages through exactly its workspace's rows, never the other's. Unlike tests/api/test_endpoints.py,
which reads the simulated world, this does not depend on which marts that world fills (the recovery
uplift and the dunning queue are empty there)."""

from __future__ import annotations

import types
import typing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi.testclient import TestClient

from revops.api.main import create_app
from revops.api.queries import MartEndpoint
from revops.api.routes import INTERVAL_ENDPOINTS, MART_ENDPOINTS
from revops.core.dbt_models import dbt_model
from revops.core.settings import Settings
from revops.core.warehouse import connect, ensure_databases
from tests.api.conftest import memory_keys
from tests.support import isolated_warehouse

WORKSPACES = ("acme", "globex")
ROWS_PER_WORKSPACE = 3
DAY = date(2026, 1, 1)
"""Every date column's value, so a required date filter (a trial balance's `as_of`) matches all rows."""
CLICKHOUSE_TYPES = {
    str: "String",
    int: "Int64",
    float: "Float64",
    bool: "Bool",
    Decimal: "Decimal(38, 9)",
    date: "Date32",
    datetime: "DateTime64(3, 'UTC')",
}


def unwrapped(annotation: Any) -> tuple[Any, bool]:
    """A row field's type without `Annotated` metadata, and whether it may be null."""
    if typing.get_origin(annotation) is Annotated:
        return unwrapped(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return unwrapped(inner)[0], True
    return annotation, False


def clickhouse_type(annotation: Any) -> str:
    python_type, nullable = unwrapped(annotation)
    if typing.get_origin(python_type) is list:
        return f"Array({clickhouse_type(typing.get_args(python_type)[0])})"
    return f"Nullable({CLICKHOUSE_TYPES[python_type]})" if nullable else CLICKHOUSE_TYPES[python_type]


def synthetic_value(annotation: Any, column: str, workspace_id: str, i: int) -> Any:
    if column == "workspace_id":
        return workspace_id
    python_type, _ = unwrapped(annotation)
    if typing.get_origin(python_type) is list:
        return [synthetic_value(typing.get_args(python_type)[0], column, workspace_id, i)]
    return {
        str: f"{column}_{i}",
        int: i,
        float: i / 4,
        bool: i % 2 == 0,
        Decimal: Decimal(i) / 4,
        date: DAY,
        datetime: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
    }[python_type]


def tables(endpoint: MartEndpoint) -> list[tuple[str, dict[str, str]]]:
    """Each table the endpoint reads, with the params that select it."""
    if endpoint.variants is None:
        return [(endpoint.table, {})]
    return [(option.table, {endpoint.variants.param: option.value}) for option in endpoint.variants.options]


def create_synthetic_mart(client: Any, table: str, endpoint: MartEndpoint) -> None:
    fields = {name: field.annotation for name, field in endpoint.row.model_fields.items()}
    columns = ", ".join(f"`{name}` {clickhouse_type(annotation)}" for name, annotation in fields.items())
    client.command(f"CREATE TABLE {table} ({columns}) ENGINE = MergeTree ORDER BY workspace_id")
    rows = [
        [synthetic_value(annotation, name, workspace_id, i) for name, annotation in fields.items()]
        for workspace_id in WORKSPACES
        for i in range(ROWS_PER_WORKSPACE)
    ]
    client.insert(table, rows, column_names=list(fields))


def test_every_endpoint_pages_through_exactly_its_workspaces_rows(revops_home: Path) -> None:
    secrets, lookup = memory_keys(*((workspace_id, None) for workspace_id in WORKSPACES))
    with isolated_warehouse(revops_home):
        with connect() as client:
            ensure_databases(client)
            for endpoint in MART_ENDPOINTS:
                for table, _ in tables(endpoint):
                    create_synthetic_mart(client, table, endpoint)
        app = create_app(Settings(api_rate_limit_per_minute=100_000), key_lookup=lookup)
        with TestClient(app) as api:
            for endpoint in MART_ENDPOINTS:
                required = {param: DAY.isoformat() for param in endpoint.required}
                for table, selector in tables(endpoint):
                    for workspace_id in WORKSPACES:
                        headers = {"Authorization": f"Bearer {secrets[workspace_id]}"}
                        rows: list[dict] = []
                        cursor: dict[str, str] = {}
                        while True:
                            page = api.get(
                                f"/v1{endpoint.path}",
                                params={**required, **selector, **cursor, "limit": 2},
                                headers=headers,
                            )
                            assert page.status_code == 200, (table, page.text)
                            rows += page.json()["data"]
                            if not page.json()["has_more"]:
                                break
                            cursor = {"cursor": page.json()["next_cursor"]}
                        assert [row["workspace_id"] for row in rows] == [workspace_id] * ROWS_PER_WORKSPACE, (
                            table
                        )


def test_every_interval_endpoint_totals_only_its_workspaces_rows(revops_home: Path) -> None:
    """The day and month marts hold both workspaces' rows, each with its own MRR; every interval's
    entries for a key are its workspace's (a leak would add the other's MRR to a week, or repeat
    a month)."""
    secrets, lookup = memory_keys(*((workspace_id, None) for workspace_id in WORKSPACES))
    mrr = {"acme": 1_000, "globex": 70_000}
    days = [DAY + timedelta(days=i) for i in range(31)]  # January 2026: Thursday 1 to Saturday 31
    with isolated_warehouse(revops_home):
        with connect() as client:
            ensure_databases(client)
            for endpoint in INTERVAL_ENDPOINTS:
                for table, date_columns in (
                    (endpoint.day_table, [{"metric_date": day} for day in days]),
                    (endpoint.month_table, [{"metric_month": DAY, "period_end_date": days[-1]}]),
                ):
                    model = dbt_model(table)
                    declared = ", ".join(f"`{c.name}` {c.data_type}" for c in model.columns.values())
                    client.command(
                        f"CREATE TABLE {table} ({declared}) ENGINE = MergeTree ORDER BY workspace_id"
                    )
                    rows = [
                        {
                            "workspace_id": ws,
                            "reporting_currency": "USD",
                            "mrr": mrr[ws],
                            "new_mrr": mrr[ws],
                            **dates,
                        }
                        for ws in WORKSPACES
                        for dates in date_columns
                    ]
                    defaults = {"String": "", "Int64": 0, "UInt8": 1, "Array(String)": []}
                    client.insert(
                        table,
                        [
                            [row.get(c.name, defaults.get(c.data_type or "")) for c in model.columns.values()]
                            for row in rows
                        ],
                        column_names=list(model.columns),
                    )
        app = create_app(Settings(api_rate_limit_per_minute=100_000), key_lookup=lookup)
        with TestClient(app) as api:
            for endpoint in INTERVAL_ENDPOINTS:
                for interval, bounds, count in (
                    ("day", ("2026-01-01", "2026-01-31"), 31),
                    ("week", ("2025-12-29", "2026-02-01"), 5),
                    ("month", ("2026-01-01", "2026-01-31"), 1),
                ):
                    for workspace_id in WORKSPACES:
                        response = api.get(
                            f"/v1{endpoint.path}",
                            params={"from": bounds[0], "to": bounds[1], "interval": interval},
                            headers={"Authorization": f"Bearer {secrets[workspace_id]}"},
                        )
                        assert response.status_code == 200, response.text
                        entries = response.json()["entries"]
                        assert len(entries) == count, (interval, workspace_id)
                        assert {e["mrr"] for e in entries} == {mrr[workspace_id]}, (interval, workspace_id)
                        if interval == "week":  # each day's new MRR, summed over the week's days in January
                            assert [e["new_mrr"] for e in entries] == [
                                n * mrr[workspace_id] for n in (4, 7, 7, 7, 6)
                            ]
