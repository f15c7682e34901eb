"""REST API latency and throughput on a warehouse of ≥ 1M ledger entries (bench/README.md, "REST API").

    .venv/bin/python bench/api_bench.py [--entries 1200000] [--seconds 10] [--clients 1 10 50]

Builds a temporary embedded warehouse whose `marts.fct_ledger_entries` has the mart's real columns,
types and sort key (checked against the dbt model's YAML), filled with balanced synthetic
transactions for two workspaces, plus `marts.fct_account_balances_daily` aggregated from them. It
creates API keys the real way, serves the API with uvicorn on 127.0.0.1 (one worker: the embedded
warehouse is one process's), and runs closed-loop clients (each sends its next request when the last
one is answered) for each concurrency level, printing a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from revops.api.keys import Scope, create_key
from revops.core.paths import DBT_PROJECT_DIR
from revops.core.settings import get_settings
from revops.core.warehouse import connect, ensure_databases

# The mart's DDL as dbt-clickhouse builds it (dbt_project/models/marts/ledger/fct_ledger_entries.sql).
LEDGER_DDL = """
CREATE TABLE marts.fct_ledger_entries (
    entry_id String, transaction_id String, workspace_id String, occurred_at DateTime64(3, 'UTC'),
    account String, sub_account String, currency String, debit Int64, credit Int64,
    source_system String, source_object_id String, posting_rule String, posting_key String,
    line_key String, customer_id Nullable(String), invoice_id Nullable(String), description Nullable(String)
) ENGINE = MergeTree ORDER BY (workspace_id, occurred_at, transaction_id, entry_id)
"""
BALANCES_DDL = """
CREATE TABLE marts.fct_account_balances_daily (
    workspace_id String, balance_date Date, account String, sub_account String,
    account_class String, currency String, debits Int64, credits Int64, balance Int64
) ENGINE = MergeTree ORDER BY (workspace_id, account, sub_account, currency, balance_date)
"""
# Each synthetic transaction is two lines (debit, credit) in one currency, a second apart or more.
FILL_LEDGER = """
INSERT INTO marts.fct_ledger_entries
WITH
    intDiv(number, 2) AS txn,
    number % 2 AS side,
    ['acme', 'globex'][txn % 2 + 1] AS ws,
    ['stripe_balance', 'revenue', 'processing_fees', 'accounts_receivable', 'cash', 'refunds'] AS accounts,
    txn % 5 AS kind,
    toInt64(100 + cityHash64(txn) % 500000) AS amount
SELECT
    lower(hex(substring(SHA256(concat(ws, toString(number))), 1, 16))) AS entry_id,
    lower(hex(substring(SHA256(concat(ws, toString(txn))), 1, 16))) AS transaction_id,
    ws AS workspace_id,
    toDateTime64('2025-11-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(intDiv(txn, 2) * {step_ms:UInt64})
        AS occurred_at,
    accounts[(kind + side) % 6 + 1] AS account,
    if(accounts[(kind + side) % 6 + 1] = 'cash', 'acc_' || ws, '') AS sub_account,
    ['USD', 'EUR', 'GBP'][txn % 3 + 1] AS currency,
    if(side = 0, amount, 0) AS debit,
    if(side = 1, amount, 0) AS credit,
    if(kind = 4, 'plaid', 'stripe') AS source_system,
    'txn_' || toString(txn) AS source_object_id,
    ['charge', 'invoice_finalized', 'fee', 'payout', 'bank_transaction'][kind + 1] AS posting_rule,
    toString(txn) AS posting_key,
    toString(side) AS line_key,
    if(kind = 1, 'cus_' || toString(txn % 5000), NULL) AS customer_id,
    if(kind = 1, 'in_' || toString(txn), NULL) AS invoice_id,
    NULL AS description
FROM numbers({rows:UInt64})
"""
FILL_BALANCES = """
INSERT INTO marts.fct_account_balances_daily
SELECT workspace_id, balance_date, account, sub_account, '' AS account_class, currency, debits, credits,
    sum(debits - credits) OVER (
        PARTITION BY workspace_id, account, sub_account, currency ORDER BY balance_date
    )
FROM (
    SELECT workspace_id, toDate(occurred_at) AS balance_date, account, sub_account, currency,
        sum(debit) AS debits, sum(credit) AS credits
    FROM marts.fct_ledger_entries GROUP BY ALL
)
"""


@dataclass(frozen=True)
class Level:
    mix: str
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_cpu_s: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def check_shape() -> None:
    """The synthetic table must have exactly the columns the dbt model documents."""
    models = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/ledger/_ledger__models.yml").read_text())[
        "models"
    ]
    documented = {
        c["name"] for m in models if m["name"] == "fct_ledger_entries" for c in m.get("columns", [])
    }
    with connect() as client:
        built = {row[0] for row in client.query("DESCRIBE TABLE marts.fct_ledger_entries").result_rows}
    missing = documented - built
    assert not missing, f"the benchmark's ledger lacks documented columns {missing}: update LEDGER_DDL"


def build_warehouse(entries: int) -> dict[str, str]:
    with connect() as client:
        ensure_databases(client)
        client.command(LEDGER_DDL)
        client.command(BALANCES_DDL)
        started = time.perf_counter()
        # Spread over a year: two transactions per instant, two lines each.
        step_ms = 365 * 86_400_000 * 4 // entries
        client.command(FILL_LEDGER, parameters={"rows": entries, "step_ms": step_ms})
        client.command(FILL_BALANCES)
        client.command("OPTIMIZE TABLE marts.fct_ledger_entries FINAL")
        count = client.command("SELECT count() FROM marts.fct_ledger_entries")
        print(f"built {count:,} ledger entries in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        keys = {ws: create_key(client, ws, [Scope.ledger], name="bench").secret for ws in ("acme", "globex")}
    check_shape()
    return keys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The year of synthetic entries, for requests at random instants in it.
YEAR_START = datetime(2025, 11, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 86_400
ACCOUNTS = ("stripe_balance", "revenue", "processing_fees", "accounts_receivable", "cash", "refunds")
CURRENCIES = ("USD", "EUR", "GBP")
Request = tuple[str, dict[str, str]]


def repeated_mix(base: str, key: str) -> list[Request]:
    """The pages a dashboard polls: the same six single-page requests over and over."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        page = client.get("/v1/ledger/entries", params={"limit": 100, "since": "2026-05-01T00:00:00Z"}).json()
        deep_cursor = page["next_cursor"]
    assert deep_cursor, "the ledger is too small for a page deep in it: use more --entries"
    return [
        ("/v1/ledger/entries", {"limit": "100"}),
        ("/v1/ledger/entries", {"limit": "100", "account": "revenue", "currency": "EUR"}),
        (
            "/v1/ledger/entries",
            {"limit": "100", "since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"},
        ),
        ("/v1/ledger/entries", {"limit": "100", "since": "2026-05-01T00:00:00Z", "cursor": deep_cursor}),
        ("/v1/ledger/entries", {"limit": "500"}),
        ("/v1/ledger/balances", {"limit": "100", "as_of": "2026-04-30"}),
    ]


def distinct_request(rng: random.Random, previous: Request | None, cursor: str | None) -> Request:
    """A request no client has likely sent before: the same shapes as `repeated_mix`, at a random
    instant (to the second), account, currency or day, or the next page of the previous request."""
    if previous is not None and cursor is not None:
        return previous[0], {**previous[1], "cursor": cursor}
    at = YEAR_START + timedelta(seconds=rng.randrange(YEAR_SECONDS))
    instant = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    shape = rng.randrange(5)
    if shape == 0:
        return "/v1/ledger/entries", {"limit": "100", "since": instant}
    if shape == 1:
        account, currency = rng.choice(ACCOUNTS), rng.choice(CURRENCIES)
        return "/v1/ledger/entries", {
            "limit": "100",
            "account": account,
            "currency": currency,
            "since": instant,
        }
    if shape == 2:
        until = (at + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return "/v1/ledger/entries", {"limit": "100", "since": instant, "until": until}
    if shape == 3:
        return "/v1/ledger/entries", {"limit": "500", "since": instant}
    return "/v1/ledger/balances", {"limit": "100", "as_of": at.date().isoformat()}


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads length-delimited responses: a load
    generator this thin leaves the shared cores to the server (httpx costs ~1 ms of CPU a request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str) -> None:
        self.reader = reader
        self.writer = writer
        self.headers = f"Host: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode()

    async def get(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        self.writer.write(f"GET {path}?{urlencode(params, doseq=True)} HTTP/1.1\r\n".encode() + self.headers)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = CONTENT_LENGTH.search(head)
        assert length, f"no Content-Length in {head[:200]!r}"
        return int(head[9:12]), await self.reader.readexactly(int(length.group(1)))


CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
NEXT_CURSOR = re.compile(rb'"next_cursor":"([^"]+)"}$')


def start_api(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The documented uvicorn command on 127.0.0.1 (one worker: the embedded warehouse is one process's,
    no access log: the bench measures requests, not logging), once it answers /readyz."""
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("uvicorn")), "--factory", "revops.api.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env,
        stderr=subprocess.DEVNULL,  # the API's own JSON access lines
    )  # fmt: skip
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the API did not become ready")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(
    port: int, server_pid: int, keys: dict[str, str], mix: str, clients: int, seconds: float
) -> Level:
    repeated = {ws: repeated_mix(f"http://127.0.0.1:{port}", key) for ws, key in keys.items()}
    latencies: list[float] = []
    errors = 0

    async def client_loop(number: int, deadline: float) -> None:
        nonlocal errors
        workspace = ("acme", "globex")[number % 2]
        connection = Connection(*await asyncio.open_connection("127.0.0.1", port), key=keys[workspace])
        rng = random.Random(f"{mix}-{clients}-{number}")
        cursor: str | None = None
        request: Request | None = None
        i = number
        while time.perf_counter() < deadline:
            if mix == "repeated":
                path, params = repeated[workspace][i % len(repeated[workspace])]
                i += 1
            else:
                request = distinct_request(rng, request, cursor)
                path, params = request
            started = time.perf_counter()
            status, body = await connection.get(path, params)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors += 1
                if errors == 1:
                    print(f"{status} {path} {params}: {body[:200]!r}", file=sys.stderr)
            # Follow every other first page to its next page, as a client paging through would.
            found = NEXT_CURSOR.search(body[-300:]) if cursor is None and path.endswith("entries") else None
            cursor = found.group(1).decode() if found and rng.random() < 0.5 else None
        connection.writer.close()

    cpu_before = cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(client_loop(n, started + seconds) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return Level(
        mix, clients, len(latencies), elapsed, latencies, errors, cpu_seconds(server_pid) - cpu_before
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_200_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument(
        "--mixes", nargs="+", choices=["repeated", "distinct"], default=["repeated", "distinct"]
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="revops-api-bench-") as home:
        os.environ["REVOPS_HOME"] = home
        os.environ["REVOPS_WAREHOUSE_URL"] = f"chdb://{home}/warehouse"
        os.environ.pop("REVOPS_WORKSPACES_FILE", None)
        get_settings.cache_clear()
        keys = build_warehouse(args.entries)
        port = free_port()
        server = start_api(port, {**os.environ, "REVOPS_API_RATE_LIMIT_PER_MINUTE": "100000000"})
        try:
            asyncio.run(run_level(port, server.pid, keys, "repeated", 4, 2.0))  # warm-up
            levels = [
                asyncio.run(run_level(port, server.pid, keys, mix, clients, args.seconds))
                for mix in args.mixes
                for clients in args.clients
            ]
        finally:
            server.terminate()
            server.wait(timeout=30)

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"\n{args.entries:,} ledger entries; {machine}, load average {os.getloadavg()[0]:.2f}\n")
    print(
        "| requests | clients | requests | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) | "
        "server CPU (ms/req) | errors |"
    )
    print("|----------|--------:|---------:|-------------------:|---------:|---------:|---------:|"
          "--------------------:|-------:|")  # fmt: skip
    for level in levels:
        print(
            f"| {level.mix} | {level.clients} | {level.requests:,} | {level.requests / level.seconds:,.0f} | "
            f"{statistics.median(level.latencies_ms):.1f} | {level.percentile(95):.1f} | "
            f"{level.percentile(99):.1f} | {level.server_cpu_s * 1000 / level.requests:.1f} | "
            f"{level.errors} |"
        )


if __name__ == "__main__":
    main()
