"""Shared fixtures: every test gets its own REVOPS_HOME, so its own embedded warehouse and state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from dagster import Definitions

from revops.assets.definitions import build_definitions
from revops.core.settings import Settings, get_settings
from revops.pipelines.runner import ensure_raw_tables
from revops_simulator import Faults, SimulatorServer, World
from tests.support import isolated_warehouse, load_simulated, run_dbt

# The simulated business the session-wide warehouse is built from: a year of history, small enough to
# build in a couple of minutes, large enough that every kind of object exists in both workspaces.
SIMULATED_SEED = 7
SIMULATED_AS_OF = date(2026, 11, 1)
SIMULATED_SCALE = 0.25


@pytest.fixture
def revops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "revops"))
    monkeypatch.delenv("REVOPS_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("REVOPS_WORKSPACES_FILE", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "revops"
    get_settings.cache_clear()


# The smallest production workspace registry: what Dagster's code location needs to load.
PRODUCTION_REGISTRY = """
[workspaces.acme]
name = "Acme"
[workspaces.acme.stripe]
"""


@pytest.fixture(scope="session")
def production_definitions(tmp_path_factory: pytest.TempPathFactory) -> Definitions:
    """revops' Definitions as production loads them: a registry file, the default providers."""
    registry = tmp_path_factory.mktemp("registry") / "workspaces.toml"
    registry.write_text(PRODUCTION_REGISTRY)
    return build_definitions(Settings(providers="registry", workspaces_file=registry))


@dataclass(frozen=True)
class SimulatedWarehouse:
    """A warehouse with every source loaded from `world` and every dbt model built and tested."""

    home: Path
    world: World

    def open(self) -> AbstractContextManager[Path]:
        """Settings pointed at this warehouse (read it with `tests.support.query`; never write to it)."""
        return isolated_warehouse(self.home)


@pytest.fixture(scope="session")
def simulated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> SimulatedWarehouse:
    """Built once per session and shared: tests only read it. Never advance its world."""
    home = tmp_path_factory.mktemp("simulated_warehouse")
    world = World(seed=SIMULATED_SEED, as_of=SIMULATED_AS_OF, scale=SIMULATED_SCALE)
    with isolated_warehouse(home):
        with SimulatorServer(world, faults=Faults()) as server:
            load_simulated(world, server)
        ensure_raw_tables()
        run_dbt(home, "build").assert_ok()
    return SimulatedWarehouse(home, world)
