"""Per-workspace leases: at most one dunning executor acts on a workspace's queue at a time.

The warehouse is the one thing every executor shares — two processes on one embedded warehouse, or
executors on several hosts against one ClickHouse server — so the lease lives there, in
`raw.dunning_leases` (a lock file would only guard one host). ClickHouse has no transactions and no
compare-and-set, so acquiring is "announce, then look" (docs/recovery.md, "Overlapping runs"):

1. insert a claim row (`claim_id`, `holder`, `expires_at` = the server's now + the TTL);
2. read every live claim of the workspace (not released, not expired by the server's clock);
3. the claim wins only if it is the only live one. Otherwise it is withdrawn (a `released` row).

Why not "the earliest claim wins": a claim's time is taken before its insert is visible, so a reader
can miss an earlier-stamped claim that is still being written and both would think they are first.
"Alone wins" needs only that an acknowledged insert is seen by every later read (true on one server
and on embedded chDB; on a cluster the lease's writes and reads are sequentially consistent, below):
of two contenders, the one that reads second has already seen the other's claim, so at most one of
them sees itself alone. If each sees the other both withdraw and try again after a random pause; a
claim that won is marked `held`, and a contender seeing a held claim gives up at once.

A lease lapses `ttl` after its last renewal, measured by the warehouse's clock (one clock for every
executor), so a crashed holder's workspace is acted on again by a later run. The holder renews before
every action and stops if its lease lapsed or was released (`LeaseLost`).

Rows are versioned per claim (`revision`) in a ReplacingMergeTree, so merges keep one row per claim.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clickhouse_connect.driver.client import Client

from revops.core.ddl import create_table_if_missing, warehouse_dialect
from revops.core.warehouse import connect

LEASES_DATABASE, LEASES_TABLE = "raw", "dunning_leases"
LEASE_COLUMNS: dict[str, str] = {
    "workspace_id": "String",
    "claim_id": "String",
    "holder": "String",
    "revision": "UInt64",
    "state": "LowCardinality(String)",  # claimed | held | released
    "written_at": "DateTime64(6, 'UTC')",  # the warehouse's clock when the row was written
    "expires_at": "DateTime64(6, 'UTC')",
}
CONTENDED_RETRIES = 3
"""Fresh attempts after a tie (every contender saw another's claim) before giving up for this run."""


class LeaseLost(RuntimeError):
    """The lease lapsed or was released while its holder still meant to act."""


@dataclass(frozen=True)
class Claim:
    claim_id: str
    holder: str
    state: str
    acquired_at: datetime
    expires_at: datetime
    revision: int


def default_holder(run_id: str) -> str:
    """Who holds a lease, for the operator reading `raw.dunning_leases` or a skipped run's log."""
    return f"{socket.gethostname()} pid {os.getpid()} run {run_id}"


def _write_settings() -> dict[str, str | int]:
    dialect = warehouse_dialect()
    # On a cluster: quorum inserts linearized, so a sequentially consistent read sees every earlier one.
    return {**dialect.insert_settings, "insert_quorum_parallel": 0} if dialect.cluster else {}


def _read_settings() -> dict[str, int]:
    return {"select_sequential_consistency": 1} if warehouse_dialect().cluster else {}


def ensure_lease_table(client: Client) -> None:
    create_table_if_missing(
        client,
        LEASES_DATABASE,
        LEASES_TABLE,
        LEASE_COLUMNS,
        "ReplacingMergeTree",
        "revision",
        order_by=["workspace_id", "claim_id"],
    )


def _write(
    client: Client, workspace_id: str, claim_id: str, holder: str, revision: int, state: str, ttl_s: float
) -> None:
    # Times are the server's (now64), never this host's: every executor compares against one clock.
    client.command(
        f"INSERT INTO {LEASES_DATABASE}.{LEASES_TABLE} ({', '.join(LEASE_COLUMNS)}) "
        "SELECT {workspace:String}, {claim:String}, {holder:String}, {revision:UInt64}, {state:String}, "
        "now64(6), now64(6) + toIntervalMicrosecond({ttl_us:UInt64})",
        parameters={
            "workspace": workspace_id,
            "claim": claim_id,
            "holder": holder,
            "revision": revision,
            "state": state,
            "ttl_us": round(ttl_s * 1_000_000),
        },
        settings=_write_settings(),
    )


def live_claims(client: Client, workspace_id: str) -> list[Claim]:
    """The workspace's claims that are neither released nor expired now, oldest first."""
    rows = client.query(
        f"""
        SELECT claim_id, latest_holder, latest_state, acquired_at, latest_expires_at, latest_revision
        FROM (
            SELECT claim_id,
                   argMax(holder, revision) AS latest_holder,
                   argMax(state, revision) AS latest_state,
                   min(written_at) AS acquired_at,
                   argMax(expires_at, revision) AS latest_expires_at,
                   max(revision) AS latest_revision
            FROM {LEASES_DATABASE}.{LEASES_TABLE}
            WHERE workspace_id = {{workspace:String}}
            GROUP BY claim_id
        )
        WHERE latest_state != 'released' AND latest_expires_at > now64(6)
        ORDER BY acquired_at, claim_id
        """,
        parameters={"workspace": workspace_id},
        settings=_read_settings(),
    ).result_rows
    return [Claim(*row) for row in rows]


class Lease(Protocol):
    """What the executor does with a lease it holds."""

    def renew(self) -> None: ...

    def release(self) -> None: ...


class PreviewLease:
    """The lease of a preview, which acts on nothing and writes nothing: no one else needs keeping out."""

    def renew(self) -> None:
        pass

    def release(self) -> None:
        pass


@dataclass
class WorkspaceLease:
    """A lease this executor holds on one workspace's queue."""

    workspace_id: str
    claim_id: str
    holder: str
    ttl_s: float
    revision: int = 1

    def renew(self) -> None:
        """Extend the lease by its TTL from now; `LeaseLost` if it is no longer this executor's."""
        with connect() as client:
            if not any(claim.claim_id == self.claim_id for claim in live_claims(client, self.workspace_id)):
                raise LeaseLost(f"the lease on workspace {self.workspace_id!r} lapsed or was released")
            self.revision += 1
            _write(client, self.workspace_id, self.claim_id, self.holder, self.revision, "held", self.ttl_s)

    def release(self) -> None:
        with connect() as client:
            self.revision += 1
            _write(client, self.workspace_id, self.claim_id, self.holder, self.revision, "released", 0)


@dataclass(frozen=True)
class LeaseRefused:
    """Another executor holds (or is contending for) the workspace."""

    workspace_id: str
    others: tuple[Claim, ...]

    def describe(self) -> str:
        held = [claim for claim in self.others if claim.state == "held"] or list(self.others)
        if not held:
            return f"workspace {self.workspace_id!r} is contended by another executor"
        claim = held[0]
        return (
            f"workspace {self.workspace_id!r} is leased by {claim.holder} "
            f"until {claim.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        )


def acquire(workspace_id: str, holder: str, ttl_s: float) -> WorkspaceLease | LeaseRefused:
    """The workspace's lease, or why not: someone else holds it (or kept tying with this executor)."""
    others: tuple[Claim, ...] = ()
    for attempt in range(CONTENDED_RETRIES + 1):
        claim_id = str(uuid.uuid4())
        with connect() as client:
            ensure_lease_table(client)
            _write(client, workspace_id, claim_id, holder, 0, "claimed", ttl_s)
            claims = live_claims(client, workspace_id)
            others = tuple(claim for claim in claims if claim.claim_id != claim_id)
            if not others and len(claims) == 1:
                lease = WorkspaceLease(workspace_id, claim_id, holder, ttl_s)
                _write(client, workspace_id, claim_id, holder, lease.revision, "held", ttl_s)
                return lease
            _write(client, workspace_id, claim_id, holder, 1, "released", 0)
        if any(claim.state == "held" for claim in others) or attempt == CONTENDED_RETRIES:
            break
        # A tie: every contender saw another's claim. Random pauses let one of them go first.
        time.sleep(random.uniform(0.05, 0.5))
    return LeaseRefused(workspace_id, others)
