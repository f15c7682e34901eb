"""Usage aggregates against the simulator's ground truth: every meter (each aggregation type) per
customer and hour, day and month and per billing period, the rated charges, and the comparison with
Stripe's invoices, all read from the session's shared warehouse; then late deliveries, reprocessing and
re-reads, which must never double count, in a warehouse of their own."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from revops.pipelines.runner import ensure_raw_tables
from revops.pipelines.usage.helpers import load_meters
from revops.pipelines.usage.partitions import day_ranges, stale_days
from revops.pipelines.usage.settings import DEFAULT_METERS_FILE
from revops_simulator import SimulatorServer, World
from revops_simulator.business.clock import day_start
from revops_simulator.business.usage import METERED_TIERS, graduated_amount
from revops_simulator.usage.log import TRUTH_METERS
from tests.conftest import SimulatedWarehouse
from tests.support import isolated_warehouse, load_simulated, query, run_dbt

WORKSPACES = ("acme", "globex")
WINDOWS = {"agg_usage_hourly": "1h", "agg_usage_daily": "1d", "agg_usage_monthly": "1mo"}
"""Each usage-per-window mart and the window of its rows, as a polars duration."""
DAILY_MODELS = (
    "stg_usage__events",
    "stg_usage__meters",
    "int_usage__events_deduplicated",
    "int_usage__metered_events",
    "int_usage__meter_minute",
    "int_usage__meter_hour",
    "int_usage__meter_day",
    *WINDOWS,
)
"""The usage models that hold days, the window marts and the staging they read: everything usage that
needs no Stripe data."""

# A smaller world of its own for the late-events test, which moves its clock.
LATE_SEED = 11
LATE_AS_OF = date(2026, 11, 1)
LATE_SCALE = 0.1


def _period_usage() -> dict[tuple[str, str, str, int, int], Decimal]:
    rows = query(
        "SELECT workspace_id, meter_slug, subscription_id, toUnixTimestamp(period_start_at) AS s, "
        "toUnixTimestamp(period_end_at) AS e, usage_quantity FROM marts.fct_usage_by_billing_period"
    )
    return {
        (r["workspace_id"], r["meter_slug"], r["subscription_id"], r["s"], r["e"]): r["usage_quantity"]
        for r in rows
    }


def _window_usage(table: str) -> dict[tuple[str, str, str, datetime], Decimal]:
    rows = query(
        "SELECT workspace_id, meter_slug, customer_id, window_start, window_end, usage_quantity "
        f"FROM marts.{table}"
    )
    usage = {}
    for r in rows:
        start = r["window_start"].replace(tzinfo=UTC)
        assert r["window_end"].replace(tzinfo=UTC) == _next_window(start, WINDOWS[table])
        usage[r["workspace_id"], r["meter_slug"], r["customer_id"], start] = r["usage_quantity"]
    return usage


def _next_window(start: datetime, every: str) -> datetime:
    if every == "1mo":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start + (timedelta(hours=1) if every == "1h" else timedelta(days=1))


def _truth_by_window(world: World, every: str) -> dict[tuple[str, str, str, datetime], Decimal]:
    return {
        (ws, *key): value
        for ws in WORKSPACES
        for key, value in world.usage_log(ws).truth_by_window(every).items()
    }


def test_the_shipped_meters_are_the_ones_the_simulator_knows() -> None:
    config = load_meters(DEFAULT_METERS_FILE)
    assert {meter.slug for meter in config.meters} == set(TRUTH_METERS)
    assert {meter.aggregation for meter in config.meters} == {"SUM", "COUNT", "UNIQUE_COUNT", "MAX", "LATEST"}


def test_every_meter_per_customer_and_billing_period_equals_the_truth(
    simulated_warehouse: SimulatedWarehouse,
) -> None:
    with simulated_warehouse.open():
        got = _period_usage()
    truth = {
        (ws, *key): value
        for ws in WORKSPACES
        for key, value in simulated_warehouse.world.usage_log(ws).truth_by_billing_period().items()
    }
    assert {key[1] for key in truth} == set(TRUTH_METERS)
    assert got == truth


@pytest.mark.parametrize("table", WINDOWS)
def test_every_window_equals_the_truth_with_duplicates_and_late_events(
    simulated_warehouse: SimulatedWarehouse, table: str
) -> None:
    world = simulated_warehouse.world
    for ws in WORKSPACES:
        log = world.usage_log(ws)
        deliveries = log.deliveries
        # The feed really is imperfect: duplicate deliveries, and events days late.
        assert deliveries.height > log.delivered_events().height
        assert (deliveries["arrival_ms"] - deliveries["time_ms"]).max() > 24 * 3600 * 1000
    with simulated_warehouse.open():
        got = _window_usage(table)
        raw = query("SELECT count() AS n FROM raw.usage_events")[0]["n"]
    truth = _truth_by_window(world, WINDOWS[table])
    assert {key[0] for key in truth} == set(WORKSPACES) and {key[1] for key in truth} == set(TRUTH_METERS)
    assert got == truth
    assert raw >= sum(world.usage_log(ws).delivered_events().height for ws in WORKSPACES)


def test_the_month_truth_tells_states_from_roll_ups_of_days(simulated_warehouse: SimulatedWarehouse) -> None:
    """Why months equal to the truth prove they are merged from states: the month's distinct users
    and latest storage are not its days' values added up (a roll-up of finalized days would be)."""
    world = simulated_warehouse.world
    months = _truth_by_window(world, "1mo")
    days_added_up: defaultdict[tuple[str, str, str, datetime], Decimal] = defaultdict(Decimal)
    for (ws, meter, customer, day), value in _truth_by_window(world, "1d").items():
        days_added_up[ws, meter, customer, day.replace(day=1)] += value
    for meter in ("active_users", "storage_gb"):
        keys = [key for key in months if key[1] == meter]
        assert keys and any(months[key] < days_added_up[key] for key in keys), meter


def test_charges_rate_the_truth_and_the_diff_explains_what_stripe_billed(
    simulated_warehouse: SimulatedWarehouse,
) -> None:
    world = simulated_warehouse.world
    with simulated_warehouse.open():
        charges = query(
            "SELECT workspace_id, subscription_id, toUnixTimestamp(period_start_at) AS s, "
            "toUnixTimestamp(period_end_at) AS e, lower(currency) AS currency, quantity, amount "
            "FROM marts.fct_usage_charges"
        )
        diff = query(
            "SELECT workspace_id, subscription_id, toUnixTimestamp(period_start_at) AS s, invoice_id, "
            "invoiced_quantity, invoiced_amount, computed_quantity, computed_amount, status "
            "FROM marts.usage_invoice_diff"
        )
    assert charges and diff
    truth = {
        (ws, *key): value
        for ws in WORKSPACES
        for key, value in world.usage_log(ws).truth_by_billing_period().items()
    }
    for charge in charges:
        calls = int(
            truth.get(
                (charge["workspace_id"], "api_calls", charge["subscription_id"], charge["s"], charge["e"]), 0
            )
        )
        assert charge["quantity"] == calls
        assert charge["amount"] == graduated_amount(calls, METERED_TIERS[charge["currency"]])
    # What Stripe invoiced, from the simulated history: metered lines by (subscription, period).
    billed = {}
    for ws in WORKSPACES:
        log = world.usage_log(ws)
        for invoice in log.history.invoices:
            for line in invoice.lines:
                if invoice.created <= log.now and line.price.metered:
                    key = (ws, invoice.subscription.id, line.period_start)
                    billed[key] = (invoice.id, line.quantity, line.amount)
    invoiced = [row for row in diff if row["status"] in ("matched", "differs")]
    assert {(r["workspace_id"], r["subscription_id"], r["s"]) for r in invoiced} == set(billed)
    for row in invoiced:
        assert (row["invoice_id"], row["invoiced_quantity"], row["invoiced_amount"]) == billed[
            row["workspace_id"], row["subscription_id"], row["s"]
        ]
        # Stripe bills what had arrived when it invoiced: late events make the only differences.
        assert (row["status"] == "matched") == (row["computed_quantity"] == row["invoiced_quantity"])
        assert row["computed_quantity"] >= row["invoiced_quantity"]
    assert any(row["status"] == "differs" for row in diff)
    assert any(row["status"] == "matched" for row in diff)


def _reprocess(home: Path, first: date, last: date) -> None:
    dbt_vars = json.dumps({"usage_start_date": first.isoformat(), "usage_end_date": last.isoformat()})
    run_dbt(home, "build", "--select", *DAILY_MODELS, "--vars", dbt_vars).assert_ok()


def test_late_events_reprocess_only_their_days_and_never_double_count(tmp_path: Path) -> None:
    """Usage alone (no Stripe): load, aggregate, move the clock, load the late deliveries and a
    re-delivered file, then recompute exactly the stale days, twice. Hours, days and months follow:
    a late event for a day rewrites its month too."""
    world = World(seed=LATE_SEED, as_of=LATE_AS_OF, scale=LATE_SCALE)
    before_ms = (day_start(world.as_of) + 86_400) * 1000
    with isolated_warehouse(tmp_path) as home:
        with SimulatorServer(world) as server:
            load_simulated(world, server, ["usage"])
        ensure_raw_tables()
        run_dbt(home, "build", "--select", *DAILY_MODELS).assert_ok()
        assert stale_days() == []
        months_before = _window_usage("agg_usage_monthly")
        world.advance_to(world.as_of + timedelta(days=2))
        with SimulatorServer(world) as server:
            load_simulated(world, server, ["usage"])
            # A re-delivered drop file (the same deliveries under another name), and the feed again.
            drops = home / "usage-drops" / "globex"
            newest = max(drops.glob("*.parquet"))
            shutil.copy(newest, drops / ("redelivered-" + newest.name))
            load_simulated(world, server, ["usage"])
        touched = set()
        for ws in WORKSPACES:
            arrived = world.usage_log(ws).deliveries.filter(pl.col("arrival_ms") >= before_ms)
            touched |= set(arrived.select(pl.from_epoch("time_ms", time_unit="ms").dt.date()).to_series())
        stale = stale_days()
        assert set(stale) == touched
        assert min(stale) < LATE_AS_OF, "late deliveries reach back into days already aggregated"
        for first, last in day_ranges(stale):
            _reprocess(home, first, last)
        assert stale_days() == []
        for table, every in WINDOWS.items():
            assert _window_usage(table) == _truth_by_window(world, every), table
        october = datetime(2026, 10, 1, tzinfo=UTC)
        assert {k: v for k, v in _window_usage("agg_usage_monthly").items() if k[3] == october} != {
            k: v for k, v in months_before.items() if k[3] == october
        }, "late events of October's last days changed October"
        # Recomputing days that are already current changes nothing.
        _reprocess(home, *day_ranges(stale)[-1])
        for table, every in WINDOWS.items():
            assert _window_usage(table) == _truth_by_window(world, every), table
