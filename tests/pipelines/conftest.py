from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from revops.core.warehouse import connect
from revops.core.workspaces import Workspace
from revops.pipelines.runner import load
from revops.pipelines.sources import STRIPE
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.registry import simulator_registry
from tests.support import isolated_warehouse

AS_OF = date(2026, 10, 15)
SCALE = 0.1


@pytest.fixture
def world() -> World:
    return World(seed=7, as_of=AS_OF, scale=SCALE)


@pytest.fixture
def server(world: World, revops_home: Path) -> Iterator[SimulatorServer]:
    with SimulatorServer(world, faults=Faults()) as running:
        yield running


def stripe_workspaces(world: World, server: SimulatorServer) -> list[Workspace]:
    return simulator_registry(world, server).with_provider("stripe")


def raw_ids(table: str, workspace_id: str) -> list[str]:
    """Ids in a raw table for one workspace, one per object (FINAL applies the dedup)."""
    with connect() as client:
        return [
            row[0]
            for row in client.query(
                f"SELECT id FROM raw.{table} FINAL WHERE workspace_id = {{ws:String}} ORDER BY id",
                parameters={"ws": workspace_id},
            ).result_rows
        ]


def load_stripe(world: World, server: SimulatorServer) -> dict[str, dict[str, int]]:
    """Load every simulated workspace's Stripe account; workspace → rows loaded per table."""
    loads = [load(STRIPE, workspace) for workspace in stripe_workspaces(world, server)]
    assert all(result.ok for result in loads), [result.error for result in loads]
    return {result.workspace_id: result.rows_by_table for result in loads}


@pytest.fixture(scope="module")
def stripe_first_load(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the first Stripe load of `world` (faultless), made once per module."""
    home = tmp_path_factory.mktemp("stripe_first_load")
    world = World(seed=7, as_of=AS_OF, scale=SCALE)
    with isolated_warehouse(home), SimulatorServer(world, faults=Faults()) as server:
        load_stripe(world, server)
    return home


@pytest.fixture
def stripe_loaded(stripe_first_load: Path, revops_home: Path) -> Path:
    """This test's home starting where the first load of `world` left it: its raw tables, cursors
    and dlt state (what a second `load` reads) are a copy of the module's first load. A copy is the
    same home: the embedded warehouse and dlt's state keep only relative paths."""
    shutil.copytree(stripe_first_load, revops_home, symlinks=True, dirs_exist_ok=True)
    return revops_home
