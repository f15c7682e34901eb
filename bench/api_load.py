"""The REST API under a mixed load of every endpoint (bench/README.md, "REST API under load").

    .venv/bin/python bench/api_load.py [--home .revops] [--clients 50] [--seconds 30]

Serves the API with the documented uvicorn command (one worker, on 127.0.0.1) over a warehouse that
`revops run` built (`--home`, default the repository's `.revops`; without one, build it first with
`make run`), with ten keys of both workspaces. Closed-loop clients (each sends its next request when
the last one is answered) draw requests from a mix of every endpoint with values taken from the
warehouse: first pages and next pages, filters on closed sets (several values too), currencies in
lower case, hour, day and month usage windows, billing periods, plus a few invalid requests and
unknown keys. It prints, per endpoint, the requests, latency and status classes; a 5xx is a failure.
The keys it makes are revoked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import NEXT_CURSOR, Connection, cpu_seconds, free_port, start_api

from revops.api.keys import Scope, create_key, revoke_key
from revops.core.paths import REPO_ROOT
from revops.core.settings import get_settings
from revops.core.warehouse import connect

WORKSPACES = ("acme", "globex")
Request = tuple[str, dict[str, Any]]


@dataclass
class Samples:
    """Values from the warehouse to build requests with, per workspace."""

    customers: list[str]
    days: list[str]
    months: list[str]
    subscriptions: list[str]
    payouts: list[str]
    currencies: list[str]


def sample(client: Any, workspace_id: str) -> Samples:
    def column(sql: str) -> list[str]:
        rows = client.query(sql, parameters={"ws": workspace_id}).result_rows
        return [str(row[0]) for row in rows] or [""]

    return Samples(
        customers=column(
            "SELECT DISTINCT customer_id FROM marts.fct_mrr_daily WHERE workspace_id = {ws:String}"
        ),
        days=column(
            "SELECT DISTINCT toString(mrr_date) FROM marts.fct_mrr_daily WHERE workspace_id = {ws:String}"
        ),
        months=column(
            "SELECT DISTINCT toString(toStartOfMonth(window_start)) FROM marts.agg_usage_daily "
            "WHERE workspace_id = {ws:String}"
        ),
        subscriptions=column(
            "SELECT DISTINCT subscription_id FROM marts.fct_usage_by_billing_period "
            "WHERE workspace_id = {ws:String}"
        ),
        payouts=column(
            "SELECT payout_id FROM marts.fct_payout_reconciliation "
            "WHERE workspace_id = {ws:String} AND payout_id IS NOT NULL"
        ),
        currencies=column(
            "SELECT DISTINCT lower(currency) FROM marts.fct_mrr_daily WHERE workspace_id = {ws:String}"
        ),
    )


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12}-{number % 12 + 1:02d}-01"


def mixed_request(rng: random.Random, s: Samples) -> Request:
    """One request of the mix: every endpoint, weighted roughly as dashboards and exports use them."""
    day, month, customer = rng.choice(s.days), rng.choice(s.months), rng.choice(s.customers)
    shapes: list[tuple[int, Request]] = [
        (8, ("/v1/ledger/entries", {"limit": 100})),
        (
            6,
            (
                "/v1/ledger/entries",
                {"limit": 100, "account": "revenue", "currency": rng.choice(s.currencies)},
            ),
        ),
        (6, ("/v1/ledger/entries", {"limit": 500, "since": f"{day}T00:00:00Z"})),
        (4, ("/v1/ledger/balances", {"as_of": day})),
        (4, ("/v1/reconciliation/payouts", {"status": ["matched", "in_transit"], "limit": 100})),
        (2, ("/v1/reconciliation/payouts", {"payout_id": rng.choice(s.payouts)})),
        (6, ("/v1/metrics/mrr", {"date": day, "limit": 500})),
        (4, ("/v1/metrics/mrr", {"customer_id": customer})),
        (
            6,
            ("/v1/metrics/mrr-movements", {"movement_type": ["new", "voluntary_churn", "involuntary_churn"]}),
        ),
        (4, ("/v1/recovery/episodes", {"outcome": rng.choice(["recovered", "lost", "open"])})),
        (3, ("/v1/recovery/cohorts", {"days_since_failure": rng.choice([7, 30]), "dunning_cohort": "all"})),
        (2, ("/v1/recovery/uplift", {})),
        (2, ("/v1/dunning/actions", {"action": "email"})),
        (6, ("/v1/usage", {"granularity": "day", "since": month, "until": next_month(month), "limit": 500})),
        (4, ("/v1/usage", {"granularity": "hour", "since": f"{day}T00:00:00Z", "customer_id": customer})),
        (3, ("/v1/usage", {"granularity": "month", "customer_id": customer})),
        (8, ("/v1/usage/billing-periods", {"limit": 100})),
        (6, ("/v1/usage/billing-periods", {"subscription_id": rng.choice(s.subscriptions)})),
        (4, ("/v1/usage/billing-periods", {"customer_id": customer, "meter": "api_calls"})),
        (2, ("/v1/metrics/mrr-movements", {"movement_type": "churn_voluntary"})),  # 400
        (1, ("/v1/ledger/entries", {"limit": [1, 2]})),  # 400: repeated
    ]
    weights, requests = zip(*shapes, strict=True)
    return rng.choices(requests, weights=weights)[0]


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)


async def run(
    port: int, keys: list[tuple[str, str]], samples: dict[str, Samples], clients: int, seconds: float
) -> Tally:
    tally = Tally()

    async def client_loop(number: int, deadline: float) -> None:
        workspace_id, secret = keys[number % len(keys)]
        connection = Connection(*await asyncio.open_connection("127.0.0.1", port), key=secret)
        rng = random.Random(number)
        cursor: Request | None = None
        while time.perf_counter() < deadline:
            if cursor is not None:
                path, params = cursor
            else:
                path, params = mixed_request(rng, samples[workspace_id])
            unknown_key = rng.random() < 0.01
            started = time.perf_counter()
            if unknown_key:  # a client guessing, on a connection of its own
                guess = "rk_live_" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=32))
                stranger = Connection(*await asyncio.open_connection("127.0.0.1", port), key=guess)
                status, body = await stranger.get(path, params)
                stranger.writer.close()
            else:
                status, body = await connection.get(path, params)
            label = "unknown key" if unknown_key else path
            tally.latencies_ms[label].append((time.perf_counter() - started) * 1000)
            tally.statuses[label][status] += 1
            if status >= 500 and len(tally.failures) < 5:
                tally.failures.append(f"{status} {path} {params}: {body[:300]!r}")
            found = NEXT_CURSOR.search(body[-400:]) if status == 200 and cursor is None else None
            cursor = (
                (path, {**params, "cursor": found.group(1).decode()})
                if found and rng.random() < 0.3
                else None
            )
        connection.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(n, started + seconds) for n in range(clients)))
    return tally


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=REPO_ROOT / ".revops", help="a REVOPS_HOME `revops run` built"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    home = args.home.resolve()
    if not (home / "warehouse").is_dir():
        sys.exit(f"no warehouse under {home}: build one with `make run` (or REVOPS_HOME=… revops run)")
    os.environ.update({"REVOPS_HOME": str(home), "REVOPS_WAREHOUSE_URL": f"chdb://{home}/warehouse"})
    os.environ.pop("REVOPS_WORKSPACES_FILE", None)
    get_settings.cache_clear()
    with connect() as client:
        made = [
            (ws, create_key(client, ws, list(Scope), name="api_load bench"))
            for ws in WORKSPACES
            for _ in range(5)
        ]
        samples = {ws: sample(client, ws) for ws in WORKSPACES}
    keys = [(ws, created.secret) for ws, created in made]

    port = free_port()
    # The per-key rate limit is raised so that the bench measures the server; every other limit is default.
    env = {**os.environ, "REVOPS_API_RATE_LIMIT_PER_MINUTE": "1000000"}
    load_before = os.getloadavg()
    server = start_api(port, env)
    try:
        asyncio.run(run(port, keys, samples, 4, 3.0))  # warm-up
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        tally = asyncio.run(run(port, keys, samples, args.clients, args.seconds))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=60)
        with connect() as client:
            for _, created in made:
                revoke_key(client, created.key.key_id)

    total = sum(sum(c.values()) for c in tally.statuses.values())
    all_statuses: Counter[int] = sum(tally.statuses.values(), Counter())
    fives = sum(n for status, n in all_statuses.items() if status >= 500)
    print(
        f"\n{args.clients} clients, {args.seconds:.0f} s: {total:,} requests, {total / elapsed:,.0f} req/s, "
        f"server CPU {cpu * 1000 / max(total, 1):.1f} ms/req; {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print("| endpoint | requests | p50 (ms) | p99 (ms) | 2xx | 400 | 401 | 429 | 5xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in sorted(tally.statuses):
        statuses, latencies = tally.statuses[label], tally.latencies_ms[label]
        print(
            f"| `{label}` | {sum(statuses.values()):,} | {statistics.median(latencies):.1f} | "
            f"{percentile(latencies, 99):.1f} | {sum(n for s, n in statuses.items() if s < 300):,} | "
            f"{statuses[400]:,} | {statuses[401]:,} | {statuses[429]:,} | "
            f"{sum(n for s, n in statuses.items() if s >= 500):,} |"
        )
    print(f"| **all** | {total:,} | | | | | | {all_statuses[429]:,} | **{fives}** |")
    for failure in tally.failures:
        print(failure, file=sys.stderr)
    sys.exit(1 if fives else 0)


if __name__ == "__main__":
    main()
