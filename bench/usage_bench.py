"""Usage metering at volume: generate ≥ 10M events, load them, aggregate them, query them.

    .venv/bin/python bench/usage_bench.py --events 10000000

Events come from the simulator's own generator (vectorized with numpy/polars: per customer and block
of days, not per event), with its duplicates and late arrivals, written as Parquet drop files and
loaded by the real usage source (polars → Arrow → dlt → ClickHouse). The aggregates are built by the
real dbt models. The billing-period query for one customer then runs on the aggregates (day states
plus the period's partial edge days from the deduplicated events) and as a scan of the raw events
(deduplicating and aggregating on the fly), for random customers and periods. Prints a Markdown row
for bench/README.md and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from revops.core.warehouse import connect
from revops.core.workspaces import Workspace
from revops.pipelines.runner import ensure_raw_tables, load
from revops.pipelines.sources import USAGE
from revops.pipelines.usage.settings import UsageAccount
from revops_simulator.business.clock import DAY
from revops_simulator.business.usage import (
    ARRAY_COLUMNS,
    BLOCK_DAYS,
    UsageProfile,
    UsageVolume,
    render_events,
)
from revops_simulator.usage.drops import write_drop_file
from tests.support import isolated_warehouse, run_dbt

WORKSPACE = "bench"
BLOCK = 20_400 // BLOCK_DAYS  # 2025-11-06 .. 2025-12-07: one block of 32 days
CUSTOMERS_PER_FILE = 500
MERGED_TABLES = ("staging.int_usage__meter_day", "staging.int_usage__metered_events")
DAILY_MODELS = (
    "stg_usage__events stg_usage__meters int_usage__events_deduplicated int_usage__metered_events "
    "int_usage__meter_minute "
    "int_usage__meter_hour int_usage__meter_day"
)

# Period boundaries are query parameters (constants), so both queries prune by index and partition.
AGGREGATE_QUERY = """
SELECT meter_slug, __VALUE__
FROM (
    SELECT meter_slug, aggregation, event_count_state, sum_state, unique_state, max_state, latest_state
    FROM staging.int_usage__meter_day
    WHERE workspace_id = {ws:String} AND customer_id = {customer:String}
      AND window_date >= {first_full_date:Date} AND window_date < {end_date:Date}
    UNION ALL
    SELECT meter_slug, aggregation, __STATES__
    FROM (__EDGES__)
    GROUP BY meter_slug, aggregation
)
GROUP BY meter_slug, aggregation
ORDER BY meter_slug
"""

RAW_QUERY = """
SELECT meter_slug, __VALUE__
FROM (
    SELECT meter_slug, aggregation, __STATES__
    FROM (__RAW__)
    GROUP BY meter_slug, aggregation
)
GROUP BY meter_slug, aggregation
ORDER BY meter_slug
"""


def _sql_parts() -> dict[str, str]:
    """Aggregate states, and the meter value from them, as the usage_states / usage_meter_value macros do."""
    states = (
        "countState() AS event_count_state, sumState(value_decimal) AS sum_state, "
        "uniqExactState(value_text) AS unique_state, maxState(value_decimal) AS max_state, "
        "argMaxState(value_decimal, (event_at, event_id)) AS latest_state"
    )
    value = (
        "multiIf(aggregation = 'COUNT', toDecimal128(countMerge(event_count_state), 9), "
        "aggregation = 'SUM', toDecimal128(sumMerge(sum_state), 9), "
        "aggregation = 'UNIQUE_COUNT', toDecimal128(uniqExactMerge(unique_state), 9), "
        "aggregation = 'MAX', toDecimal128(maxMerge(max_state), 9), "
        "toDecimal128(argMaxMerge(latest_state), 9)) AS usage_quantity"
    )
    return {"STATES": states, "VALUE": value}


def _fill(template: str, **parts: str) -> str:
    for name, sql in parts.items():
        template = template.replace(f"__{name}__", sql)
    return template


def metered(source: str, where: str) -> str:
    """Events of `source` (columns as int_usage__events_deduplicated) with their meter's value."""
    raw_value = (
        "multiIf(length(m.value_keys) = 1, JSONExtractRaw(e.data, m.value_keys[1]), "
        "length(m.value_keys) = 2, JSONExtractRaw(e.data, m.value_keys[1], m.value_keys[2]), "
        "JSONExtractRaw(e.data, m.value_keys[1], m.value_keys[2], m.value_keys[3]))"
    )
    text = (
        f"if(startsWith({raw_value}, '\"'), JSONExtractString(concat('[', {raw_value}, ']'), 1), {raw_value})"
    )
    return (
        f"SELECT m.meter_slug AS meter_slug, m.aggregation AS aggregation, e.event_id AS event_id, "
        f"e.event_at AS event_at, if(m.aggregation = 'UNIQUE_COUNT', {text}, NULL) AS value_text, "
        f"if(m.aggregation IN ('SUM', 'MAX', 'LATEST'), toDecimal128OrNull({text}, 9), NULL) "
        "AS value_decimal "
        f"FROM ({source}) AS e INNER JOIN staging.stg_usage__meters AS m "
        f"ON m.workspace_id = e.workspace_id AND m.event_type = e.event_type WHERE {where}"
    )


def generate(drop_dir: Path, events_wanted: int, seed: int) -> tuple[int, int, float]:
    """Drop files of ≥ `events_wanted` distinct events; (events, deliveries, seconds)."""
    started = time.monotonic()
    probe = [UsageProfile.of(seed, WORKSPACE, f"cus_{i:08d}") for i in range(200)]
    per_customer = np.mean(
        [len(p.block_arrays(BLOCK, UsageVolume(), np.full(BLOCK_DAYS, 5))["kind"]) for p in probe]
    )
    # About 20,000 customers, each busier than a demo customer, for one block of 32 days.
    volume = UsageVolume(max(1.0, events_wanted / 20_000 / per_customer * 1.15))
    events = deliveries = 0
    customer = 0
    file_index = 0
    while events < events_wanted:
        parts, subjects = [], []
        for _ in range(CUSTOMERS_PER_FILE):
            customer_id = f"cus_{customer:08d}"
            profile = UsageProfile.of(seed, WORKSPACE, customer_id)
            seats = np.full(BLOCK_DAYS, 1 + customer % 12)
            arrays = profile.block_arrays(BLOCK, volume, seats)
            parts.append(arrays)
            subjects.append(np.full(len(arrays["kind"]), customer_id, dtype=object))
            customer += 1
        arrays = {name: np.concatenate([part[name] for part in parts]) for name in ARRAY_COLUMNS}
        frame = render_events(WORKSPACE, arrays, np.concatenate(subjects))
        duplicates = frame.filter(pl.col("duplicate_arrival_ms").is_not_null()).with_columns(
            pl.col("duplicate_arrival_ms").alias("arrival_ms")
        )
        rows = pl.concat([frame, duplicates]).sort("arrival_ms")
        write_drop_file(rows, drop_dir / f"events-{file_index:05d}.parquet", "parquet")
        events, deliveries, file_index = events + frame.height, deliveries + rows.height, file_index + 1
    return events, deliveries, time.monotonic() - started


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=60, help="billing-period queries per method")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None, help="REVOPS_HOME to use (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--reuse", action="store_true", help="only query the warehouse already in --home")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="revops-usage-bench-"))
    drop_dir = home / "drops"
    drop_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, float | int | str] = {}
    with isolated_warehouse(home):
        if args.reuse:
            events = deliveries = 0
            generate_s = load_s = aggregate_s = end_to_end_s = float("nan")
        else:
            total_started = time.monotonic()
            events, deliveries, generate_s = generate(drop_dir, args.events, args.seed)
            print(f"generated {events:,} events ({deliveries:,} deliveries) in {generate_s:.1f}s", flush=True)

            started = time.monotonic()
            workspace = Workspace(
                id=WORKSPACE, name="Bench", accounts={"usage": UsageAccount(drop_dir=drop_dir)}
            )
            loaded = load(USAGE, workspace)
            assert loaded.ok, loaded.error
            load_s = time.monotonic() - started
            rate = deliveries / load_s
            print(f"loaded {deliveries:,} deliveries in {load_s:.1f}s ({rate:,.0f}/s)", flush=True)

            ensure_raw_tables()
            started = time.monotonic()
            run_dbt(home, "build", "--select", *DAILY_MODELS.split()).assert_ok()
            # Merge the parts the day-at-a-time inserts left, as background merges soon would: the
            # query then reads one part per partition, not dozens.
            with connect() as client:
                for table in MERGED_TABLES:
                    client.command(f"OPTIMIZE TABLE {table} FINAL")
            aggregate_s = time.monotonic() - started
            end_to_end_s = time.monotonic() - total_started
            print(f"aggregated in {aggregate_s:.1f}s; end to end {end_to_end_s:.1f}s", flush=True)

        parts = _sql_parts()
        rng = random.Random(args.seed)
        first_day = BLOCK * BLOCK_DAYS * DAY
        timings: dict[str, list[float]] = {"aggregates": [], "raw": []}
        with connect() as client:
            customers = int(
                client.command("SELECT uniqExact(customer_id) FROM staging.int_usage__events_deduplicated")
            )
            for _ in range(args.queries):
                customer = f"cus_{rng.randrange(customers):08d}"
                start = first_day + rng.randrange(0, 3 * DAY)
                end = start + 25 * DAY + rng.randrange(0, DAY)
                params = {
                    "ws": WORKSPACE,
                    "customer": customer,
                    "start": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start)),
                    "end": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(end)),
                }
                first_full = start // DAY * DAY + (0 if start % DAY == 0 else DAY)
                params["first_full_date"] = time.strftime("%Y-%m-%d", time.gmtime(first_full))
                params["end_date"] = time.strftime("%Y-%m-%d", time.gmtime(end))
                since, until = "{start:DateTime64(3, 'UTC')}", "{end:DateTime64(3, 'UTC')}"
                edges = (
                    "SELECT * FROM staging.int_usage__metered_events "
                    "WHERE workspace_id = {ws:String} AND customer_id = {customer:String} "
                    f"AND event_at >= {since} AND event_at < {until} "
                    "AND (event_date < {first_full_date:Date} OR event_date >= {end_date:Date})"
                )
                raw_events = (
                    "SELECT workspace_id, id AS event_id, subject AS customer_id, type AS event_type, data, "
                    "toDateTime64(time, 3, 'UTC') AS event_at FROM raw.usage_events "
                    "WHERE workspace_id = {ws:String} AND subject = {customer:String} "
                    f"AND time >= {since} AND time < {until} "
                    "ORDER BY workspace_id, id, _revops_synced_at DESC LIMIT 1 BY workspace_id, id"
                )
                queries = {
                    "aggregates": _fill(AGGREGATE_QUERY, EDGES=edges, **parts),
                    "raw": _fill(RAW_QUERY, RAW=metered(raw_events, "1 = 1"), **parts),
                }
                answers = {}
                for name, sql in queries.items():
                    began = time.perf_counter()
                    answers[name] = client.query(sql, parameters=params).result_rows
                    timings[name].append(time.perf_counter() - began)
                assert answers["aggregates"] == answers["raw"], (customer, answers)
    p50 = {name: statistics.median(samples) * 1000 for name, samples in timings.items()}
    p99 = {name: percentile(samples, 0.99) * 1000 for name, samples in timings.items()}
    results = {
        "events": events,
        "deliveries": deliveries,
        "generate_s": round(generate_s, 1),
        "load_s": round(load_s, 1),
        "deliveries_per_s": 0 if args.reuse else round(deliveries / load_s),
        "aggregate_s": round(aggregate_s, 1),
        "end_to_end_s": round(end_to_end_s, 1),
        "aggregates_p50_ms": round(p50["aggregates"], 1),
        "aggregates_p99_ms": round(p99["aggregates"], 1),
        "raw_p50_ms": round(p50["raw"], 1),
        "raw_p99_ms": round(p99["raw"], 1),
        "speedup_p50": round(p50["raw"] / p50["aggregates"], 1),
    }
    print(json.dumps(results, indent=2))
    print(
        f"| {events:,} | {deliveries:,} | {results['deliveries_per_s']:,} | {results['end_to_end_s']} "
        f"| {results['aggregates_p50_ms']} / {results['aggregates_p99_ms']} "
        f"| {results['raw_p50_ms']} / {results['raw_p99_ms']} | {results['speedup_p50']}x |"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
