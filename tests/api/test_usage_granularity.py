"""`GET /v1/usage` at each granularity against the session's simulated warehouse: values equal the
simulator's ground truth (UNIQUE_COUNT and LATEST included), pages neither repeat nor skip rows, window
bounds must fall on the granularity's boundaries, and a cursor never crosses granularities."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.api.keys import Scope
from revops.api.main import create_app
from revops.api.queries import Filter, Variant, Variants
from revops.api.routes.usage import ENDPOINTS
from revops.core.settings import Settings
from revops_simulator.usage.log import TRUTH_METERS
from tests.api.conftest import memory_keys
from tests.conftest import SimulatedWarehouse
from tests.support import query

URL = "/v1/usage"
WORKSPACES = ("acme", "globex")
EVERY = {"hour": "1h", "day": "1d", "month": "1mo"}
"""Each granularity and its window as a polars duration (the simulator's truth)."""
TABLES = {
    "hour": "marts.agg_usage_hourly",
    "day": "marts.agg_usage_daily",
    "month": "marts.agg_usage_monthly",
}

SECRETS, LOOKUP = memory_keys(*((workspace_id, Scope.usage) for workspace_id in WORKSPACES))


@pytest.fixture(scope="module")
def client(simulated_warehouse: SimulatedWarehouse) -> Iterator[TestClient]:
    with simulated_warehouse.open():
        app = create_app(Settings(api_rate_limit_per_minute=1_000_000), key_lookup=LOOKUP)
        with TestClient(app) as client:
            yield client


def get(client: TestClient, workspace_id: str, **params: Any) -> Any:
    return client.get(
        URL, params=params, headers={"Authorization": f"Bearer {SECRETS[f'{workspace_id}:usage:read']}"}
    )


def all_pages(client: TestClient, workspace_id: str, **params: Any) -> tuple[list[dict], int]:
    rows: list[dict] = []
    pages = 0
    cursor = None
    while True:
        response = get(client, workspace_id, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        rows += response.json()["data"]
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return rows, pages


def instant(text: str) -> datetime:
    """An ISO date or datetime as the API reads it: UTC unless it says otherwise."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def busiest_customer(simulated_warehouse: SimulatedWarehouse, workspace_id: str) -> str:
    """The customer with usage on the most days (ties by id): one with rows at every granularity."""
    days = Counter(key[1] for key in simulated_warehouse.world.usage_log(workspace_id).truth_by_window("1d"))
    return min(days, key=lambda customer: (-days[customer], customer))


@pytest.mark.parametrize("workspace_id", WORKSPACES)
@pytest.mark.parametrize("granularity", EVERY)
def test_each_granularity_equals_the_truth(
    client: TestClient, simulated_warehouse: SimulatedWarehouse, workspace_id: str, granularity: str
) -> None:
    customer = busiest_customer(simulated_warehouse, workspace_id)
    rows, _ = all_pages(client, workspace_id, granularity=granularity, customer_id=customer, limit=500)
    got = {(row["meter_slug"], instant(row["window_start"])): Decimal(row["usage_quantity"]) for row in rows}
    truth = {
        (meter, start.astimezone(UTC)): value
        for (meter, of, start), value in simulated_warehouse.world.usage_log(workspace_id)
        .truth_by_window(EVERY[granularity])
        .items()
        if of == customer
    }
    assert {meter for meter, _ in truth} == set(TRUTH_METERS)
    assert got == truth
    assert {(row["workspace_id"], row["customer_id"]) for row in rows} == {(workspace_id, customer)}
    for row in rows:
        start, end = instant(row["window_start"]), instant(row["window_end"])
        if granularity == "month":
            assert start.day == 1 and end.day == 1 and 28 <= (end - start).days <= 31
        else:
            assert end - start == timedelta(hours=1 if granularity == "hour" else 24)


@pytest.mark.parametrize(
    ("granularity", "since", "until", "limit"),
    [
        ("hour", "2026-10-14T00:00:00Z", "2026-10-16T00:00:00Z", 7),
        ("day", "2026-10-01", "2026-10-08", 23),
        ("month", "2026-01-01", "2026-11-01", 97),
    ],
)
def test_pages_at_each_granularity_never_repeat_or_skip(
    client: TestClient,
    simulated_warehouse: SimulatedWarehouse,
    granularity: str,
    since: str,
    until: str,
    limit: int,
) -> None:
    rows, pages = all_pages(client, "acme", granularity=granularity, since=since, until=until, limit=limit)
    with simulated_warehouse.open():
        expected = query(
            f"SELECT window_start, customer_id, meter_slug FROM {TABLES[granularity]} "
            "WHERE workspace_id = 'acme' AND window_start >= {since:DateTime('UTC')} "
            "AND window_start < {until:DateTime('UTC')} ORDER BY window_start, customer_id, meter_slug",
            since=f"{instant(since):%Y-%m-%d %H:%M:%S}",
            until=f"{instant(until):%Y-%m-%d %H:%M:%S}",
        )
    got = [(instant(r["window_start"]), r["customer_id"], r["meter_slug"]) for r in rows]
    assert got == [
        (r["window_start"].replace(tzinfo=UTC), r["customer_id"], r["meter_slug"]) for r in expected
    ]
    assert len(expected) > 2 * limit and pages == -(-len(expected) // limit)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"granularity": "week"}, "granularity"),
        ({"granularity": ""}, "granularity"),
        ({"granularity": "month", "since": "2026-10-15"}, "since"),
        ({"granularity": "month", "until": "2026-10-01T01:00:00Z"}, "until"),
        ({"since": "2026-10-15T12:00:00Z"}, "since"),  # the default granularity is day
        ({"granularity": "hour", "until": "2026-10-15T10:30:00Z"}, "until"),
        ({"granularity": "hour", "since": "2026-10-15T10:00:00+05:30"}, "since"),  # 04:30 UTC
        ({"granularity": "day", "since": "2026-10-15T00:00:00.001Z"}, "since"),
    ],
)
def test_bad_granularities_and_window_bounds_are_400_naming_the_parameter(
    client: TestClient, params: dict[str, str], param: str
) -> None:
    response = get(client, "acme", **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "parameter_invalid",
        param,
    )


def test_bounds_on_a_boundary_in_any_offset_are_accepted(client: TestClient) -> None:
    utc = get(client, "acme", granularity="day", since="2026-10-15", until="2026-10-16")
    offset = get(
        client, "acme", granularity="day", since="2026-10-15T02:00:00+02:00", until="2026-10-16T00:00:00Z"
    )
    assert utc.status_code == offset.status_code == 200
    assert utc.json()["data"] and utc.json() == offset.json()


def test_a_cursor_never_crosses_granularities(client: TestClient) -> None:
    first = get(client, "acme", granularity="day", limit=5).json()
    assert first["has_more"]
    crossed = get(client, "acme", granularity="hour", limit=5, cursor=first["next_cursor"])
    assert crossed.status_code == 400 and crossed.json()["error"]["param"] == "cursor"
    # Leaving the granularity out is asking for the default one: the same request.
    implicit = get(client, "acme", limit=5, cursor=first["next_cursor"])
    explicit = get(client, "acme", granularity="day", limit=5, cursor=first["next_cursor"])
    assert implicit.status_code == 200 and implicit.json() == explicit.json()


def test_openapi_documents_the_granularity(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][URL]["get"]
    (granularity,) = [p for p in operation["parameters"] if p["name"] == "granularity"]
    assert granularity["schema"]["enum"] == list(EVERY) and granularity["schema"]["default"] == "day"
    assert "boundaries" in granularity["description"] and not granularity.get("required")
    assert operation["x-revops-mart"]["variants"] == {
        "param": "granularity",
        "window_column": "window_start",
        "tables": TABLES,
    }


def test_a_variant_declaration_is_checked_when_declared() -> None:
    usage = next(endpoint for endpoint in ENDPOINTS if endpoint.path == "/usage")
    hourly = Variants("granularity", "window_start", (Variant("hour", TABLES["hour"], "hour"),), "hour")
    with pytest.raises(ValueError, match="default"):
        dataclasses.replace(usage, variants=hourly)  # the endpoint's table is not the default's
    not_marts = Variants("granularity", "window_start", (Variant("day", "raw.usage_events", "day"),), "day")
    with pytest.raises(ValueError, match="marts tables only"):
        dataclasses.replace(usage, table="raw.usage_events", variants=not_marts)
    with pytest.raises(ValueError, match="include the default"):
        Variants("granularity", "window_start", (Variant("day", TABLES["day"], "day"),), "hour")
    with pytest.raises(ValueError, match="granularity"):
        dataclasses.replace(usage, filters=(*usage.filters, Filter("granularity", "meter_slug", str)))
