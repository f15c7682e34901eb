"""A warehouse with Stripe and usage loaded from a small simulated world and the usage models built.

The shared `simulated_warehouse` does not load usage events, so usage builds its own, smaller one
(session-scoped; tests only read it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from pipelines.runner import ensure_raw_tables, load_usage
from simulator import SimulatorServer, World
from simulator.registry import simulator_registry
from tests.support import isolated_warehouse, load_simulated, run_dbt

USAGE_SEED = 11
USAGE_AS_OF = date(2026, 11, 1)
USAGE_SCALE = 0.1
USAGE_MODELS = "+path:models/marts/usage"


def load_usage_for(world: World, server: SimulatorServer) -> dict[str, dict[str, int]]:
    """Load every simulated workspace's usage (acme: the feed; globex: Parquet drops)."""
    rows = {}
    for workspace in simulator_registry(world, server).with_provider("usage"):
        load = load_usage(workspace)
        assert load.ok, load.error
        rows[workspace.id] = load.rows_by_table
    return rows


@dataclass(frozen=True)
class UsageWarehouse:
    home: Path
    world: World


@pytest.fixture(scope="session")
def usage_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsageWarehouse]:
    home = tmp_path_factory.mktemp("usage_warehouse")
    world = World(seed=USAGE_SEED, as_of=USAGE_AS_OF, scale=USAGE_SCALE)
    with isolated_warehouse(home):
        with SimulatorServer(world) as server:
            load_simulated(world, server, ["stripe"])
            load_usage_for(world, server)
        ensure_raw_tables()
        run_dbt(home, "build", "--select", USAGE_MODELS, "--indirect-selection", "cautious").assert_ok()
    yield UsageWarehouse(home, world)
