"""The usage feed and file drops as the simulator serves them, the meters config, and the source's
handling of bad records: fast, no warehouse."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from revops.pipelines.usage.helpers import (
    UsageSourceError,
    feed_frame,
    load_meters,
    read_drop_file,
    split_valid,
)
from revops_simulator import SimulatorServer, World
from revops_simulator.business.usage import METERED_TIERS, Tier, graduated_amount
from revops_simulator.usage.drops import write_drops

AS_OF = date(2026, 3, 1)


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=3, as_of=AS_OF, scale=0.2)


def _feed(server: SimulatorServer, key: str, **params: str) -> httpx.Response:
    return httpx.get(
        server.usage_base_url + "/v1/events", params=params, headers={"Authorization": f"Bearer {key}"}
    )


def test_the_feed_pages_through_every_delivery_in_order_and_its_cursor_survives_the_clock(
    world: World,
) -> None:
    acme = next(ws for ws in world.workspaces if ws.id == "acme")
    with SimulatorServer(World(world.seed, AS_OF, world.scale)) as server:
        served, cursor = [], None
        while True:
            page = _feed(
                server, acme.usage_api_key, limit="500", **({"after": cursor} if cursor else {})
            ).json()
            served += page["data"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        deliveries = server.world.usage_log("acme").deliveries
        assert [event["id"] for event in served] == deliveries["id"].to_list()
        assert len(served) > len({event["id"] for event in served}), "duplicate deliveries are served"
        first = served[0]
        assert set(first) == {
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
        }
        assert first["subject"].startswith("cus_") and first["time"].endswith("Z")
        # Moving the clock adds deliveries after the cursor, late ones for earlier days included.
        server.world.advance_to(date(2026, 3, 3))
        later = _feed(server, acme.usage_api_key, limit="1000", after=cursor).json()["data"]
        assert later
        times = [datetime.fromisoformat(event["time"]) for event in later]
        assert min(times) < datetime(2026, 3, 2, tzinfo=UTC)


def test_bad_feed_requests_get_a_json_error_naming_the_parameter(world: World) -> None:
    acme = next(ws for ws in world.workspaces if ws.id == "acme")
    with SimulatorServer(World(world.seed, AS_OF, world.scale)) as server:
        assert _feed(server, "usg_wrong").status_code == 401
        for params, param in (
            ({"limit": "0"}, "limit"),
            ({"after": "nonsense"}, "after"),
            ({"page": "2"}, "page"),
        ):
            response = _feed(server, acme.usage_api_key, **params)
            assert response.status_code == 400
            assert response.json()["error"]["param"] == param


def test_drops_are_written_once_per_complete_day_and_read_back_exactly(world: World, tmp_path: Path) -> None:
    log = world.usage_log("globex")
    written = write_drops(log, tmp_path, "parquet")
    assert written and write_drops(log, tmp_path, "parquet") == []
    jsonl = write_drops(log, tmp_path / "jsonl", "jsonl")
    frames = [read_drop_file(path) for path in sorted(written)]
    lines = [read_drop_file(path) for path in sorted(jsonl)]
    parquet_ids = pl.concat(frames)["id"].to_list()
    assert parquet_ids == pl.concat(lines)["id"].to_list() == log.deliveries["id"].to_list()
    # Numbers keep their exact digits: storage in GB with three decimals, as JSON numbers.
    storage = pl.concat(lines).filter(pl.col("type") == "storage.snapshot")["data"][0]
    assert '"gigabytes":' in storage.replace(" ", "") and "." in storage


def test_records_that_are_not_cloudevents_are_rejected_with_a_reason() -> None:
    good = {
        "specversion": "1.0",
        "id": "e1",
        "source": "/x",
        "type": "t",
        "subject": "cus_1",
        "time": "2026-01-01T00:00:00Z",
    }
    frame = feed_frame(
        [
            good,
            {**good, "id": "e2", "time": "yesterday"},
            {**good, "id": "e3", "subject": None},
            {**good, "id": None},
            {**good, "id": "e5", "specversion": "0.3"},
        ]
    )
    events, rejected = split_valid(frame, "acme", "feed", datetime.now(UTC))
    assert events.column("id").to_pylist() == ["e1"]
    assert sorted(rejected.column("reason").to_pylist()) == [
        "missing id",
        "missing subject (the customer)",
        "specversion is not 1.x",
        "time is not an RFC 3339 timestamp",
    ]
    assert all(json.loads(record) for record in rejected.column("record").to_pylist())


def test_a_meters_config_that_does_not_validate_names_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "meters.yaml"
    config.write_text("version: 1\nmeters:\n  - slug: tokens\n    event_type: llm\n    aggregation: SUM\n")
    with pytest.raises(UsageSourceError, match="value_property"):
        load_meters(config)
    config.write_text("version: 1\nmeters:\n  - slug: x\n    event_type: e\n    aggregation: MEDIAN\n")
    with pytest.raises(UsageSourceError, match="aggregation"):
        load_meters(config)


def test_graduated_tiers_bill_each_unit_at_its_tier() -> None:
    tiers = (Tier(100, 0), Tier(1_000, 5, flat_amount=200), Tier(None, 3))
    assert graduated_amount(0, tiers) == 0
    assert graduated_amount(100, tiers) == 0
    assert graduated_amount(101, tiers) == 5 + 200
    assert graduated_amount(1_500, tiers) == 900 * 5 + 200 + 500 * 3
    assert graduated_amount(150, METERED_TIERS["usd"]) == 250
