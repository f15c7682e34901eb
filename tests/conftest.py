"""Shared fixtures: every test gets its own REVOPS_HOME, so its own embedded warehouse and state."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from dagster import Definitions
from filelock import FileLock

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


# Test homes in memory when the machine has room: Dagster commits each of a run's ~1,600 events to
# SQLite, and on disk every commit waits for an fsync (about 15 ms here, 0.1 ms on tmpfs); nothing a
# test writes needs to survive the session. An explicit --basetemp is left alone.
TMPFS = Path("/dev/shm")
TMPFS_FREE_NEEDED = 8 * 2**30


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp or hasattr(config, "workerinput"):
        return  # given, or a pytest-xdist worker (the controller hands it a directory below its own)
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK) and shutil.disk_usage(TMPFS).free > TMPFS_FREE_NEEDED:
        config.option.basetemp = tempfile.mkdtemp(prefix="revops-pytest-", dir=TMPFS)
        config.stash[_IN_MEMORY] = Path(config.option.basetemp)


def pytest_unconfigure(config: pytest.Config) -> None:
    if (in_memory := config.stash.get(_IN_MEMORY, None)) is not None:
        shutil.rmtree(in_memory, ignore_errors=True)


_IN_MEMORY = pytest.StashKey[Path]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow (end-to-end) tests first, the rest in collection order: with `--dist
    loadfile --no-loadscope-reorder` (the Makefile) the longest modules start at once, on both
    workers, instead of last, so the two workers finish together."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


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


def _build_simulated_warehouse(home: Path, world: World) -> None:
    with isolated_warehouse(home):
        with SimulatorServer(world, faults=Faults()) as server:
            load_simulated(world, server)
        ensure_raw_tables()
        run_dbt(home, "build").assert_ok()


@pytest.fixture(scope="session")
def simulated_warehouse(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> SimulatedWarehouse:
    """Shared by every test of the session: tests only read it. Never advance its world.

    Under pytest-xdist the first worker that needs it builds it (the others wait on a file lock) and
    each worker reads its own copy: the embedded warehouse is opened by one process at a time, and
    its directory holds only relative paths, so a copy is the same warehouse."""
    world = World(seed=SIMULATED_SEED, as_of=SIMULATED_AS_OF, scale=SIMULATED_SCALE)
    home = tmp_path_factory.mktemp("simulated_warehouse")
    if worker_id == "master":
        _build_simulated_warehouse(home, world)
        return SimulatedWarehouse(home, world)
    shared = tmp_path_factory.getbasetemp().parent / "simulated_warehouse"  # one per test session
    with FileLock(f"{shared}.lock"):
        if not (shared / ".built").exists():
            _build_simulated_warehouse(shared, world)
            (shared / ".built").touch()
    shutil.copytree(shared, home, symlinks=True, dirs_exist_ok=True)
    return SimulatedWarehouse(home, world)
