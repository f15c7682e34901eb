from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from revops.core.warehouse import connect
from revops.core.workspaces import Workspace
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.registry import simulator_registry

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
