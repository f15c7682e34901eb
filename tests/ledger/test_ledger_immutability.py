"""The ledger never edits a line: rebuilding reproduces every entry id and amount, and a refund that
arrives after a build adds entries and changes none.

One warehouse: the simulated Stripe accounts and banks loaded at `BUILT_ON`, the ledger built; the
clock moved to `ADVANCED_TO` (a globex charge of January is refunded in between), loaded and built
again; then rebuilt from scratch with `--full-refresh`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from revops.pipelines.runner import ensure_raw_tables
from revops_simulator import Faults, SimulatorServer, World
from tests.support import isolated_warehouse, load_simulated, query, run_dbt

SEED, SCALE = 7, 0.25
BUILT_ON = date(2026, 2, 10)
ADVANCED_TO = date(2026, 2, 25)
# The ledger and its own tests (cautious: not the tests that also read models left out here).
LEDGER = (
    *("--select", "+fct_ledger_entries_recorded", "ledger_chart_of_accounts"),
    *("--indirect-selection", "cautious"),
)
ENTRY_COLUMNS = (
    "entry_id, transaction_id, occurred_at, account, sub_account, currency, debit, credit, posting_rule"
)


@dataclass(frozen=True)
class Builds:
    world: World
    first: dict[str, dict[str, Any]]
    second: dict[str, dict[str, Any]]
    rebuilt: dict[str, dict[str, Any]]


def _entries() -> dict[str, dict[str, Any]]:
    rows = query(f"select workspace_id, {ENTRY_COLUMNS}, source_object_id from marts.fct_ledger_entries")
    return {f"{row['workspace_id']}/{row['entry_id']}": row for row in rows}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    home = tmp_path_factory.mktemp("ledger_immutability")
    world = World(seed=SEED, as_of=BUILT_ON, scale=SCALE)
    with isolated_warehouse(home):
        with SimulatorServer(world, faults=Faults()) as server:
            load_simulated(world, server, ["stripe", "plaid"])
            ensure_raw_tables()
            run_dbt(home, "build", *LEDGER).assert_ok()
            first = _entries()
            world.advance_to(ADVANCED_TO)
            load_simulated(world, server, ["stripe", "plaid"])
        # The build runs `ledger_entries_never_change` against what the first build recorded.
        run_dbt(home, "build", *LEDGER).assert_ok()
        second = _entries()
        run_dbt(home, "build", "--full-refresh", *LEDGER).assert_ok()
        yield Builds(world, first, second, _entries())


def _late_refund_transactions(world: World) -> set[tuple[str, str]]:
    """(workspace, balance transaction id) of refunds created after BUILT_ON of charges created before it."""
    cutoff = datetime.combine(BUILT_ON, time.max, tzinfo=UTC).timestamp()
    found = set()
    for workspace in world.workspaces:
        truth = world.ground_truth(workspace.id)
        charges = {charge["id"]: charge for charge in truth.objects["charges"]}
        found |= {
            (workspace.id, refund["balance_transaction"])
            for refund in truth.objects["refunds"]
            if refund["created"] > cutoff and charges[refund["charge"]]["created"] <= cutoff
        }
    return found


def test_the_world_has_a_late_refund(builds: Builds) -> None:
    assert _late_refund_transactions(builds.world), "pick dates with a refund of an earlier charge in between"


def test_a_later_build_keeps_every_earlier_entry_unchanged(builds: Builds) -> None:
    assert builds.first
    later = builds.second
    changed = {key: (row, later.get(key)) for key, row in builds.first.items() if later.get(key) != row}
    assert changed == {}


def test_the_late_refund_adds_a_balanced_transaction(builds: Builds) -> None:
    for workspace_id, balance_transaction_id in _late_refund_transactions(builds.world):
        before = [
            row
            for row in builds.first.values()
            if (row["workspace_id"], row["source_object_id"]) == (workspace_id, balance_transaction_id)
        ]
        after = [
            row
            for row in builds.second.values()
            if (row["workspace_id"], row["source_object_id"]) == (workspace_id, balance_transaction_id)
        ]
        assert before == []
        assert {row["posting_rule"] for row in after} == {"stripe_refund"}
        assert {row["account"] for row in after if row["debit"]} == {"refunds"}
        assert sum(row["debit"] - row["credit"] for row in after) == 0


def test_rebuilding_from_scratch_reproduces_every_entry(builds: Builds) -> None:
    assert builds.rebuilt == builds.second
