"""Test support shared by every module that builds a warehouse: an isolated embedded warehouse, loading
the simulator's providers into it with the real sources, and running `revops-dbt` as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from revops.core.paths import DBT_PROJECT_DIR
from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.pipelines.runner import load
from revops.pipelines.sources import SOURCES, source_named
from revops_simulator import SimulatorServer, World
from revops_simulator.registry import simulator_registry

SOURCE_NAMES = tuple(source.name for source in SOURCES)


@contextmanager
def isolated_warehouse(home: Path) -> Iterator[Path]:
    """Point settings at `home` and an embedded warehouse inside it, whatever the caller's environment
    (an explicit URL wins over any REVOPS_WAREHOUSE_URL from the environment or `.env`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVOPS_HOME", str(home))
        patch.setenv("REVOPS_WAREHOUSE_URL", f"chdb://{home / 'warehouse'}")
        patch.delenv("REVOPS_WORKSPACES_FILE", raising=False)
        get_settings.cache_clear()
        try:
            yield home
        finally:
            get_settings.cache_clear()


def query(sql: str, **parameters: Any) -> list[dict[str, Any]]:
    """Rows as dicts, opening (and closing) the warehouse for this one query."""
    with connect() as client:
        return list(client.query(sql, parameters=parameters).named_results())


def load_simulated(
    world: World, server: SimulatorServer, sources: Iterable[str] = SOURCE_NAMES
) -> dict[tuple[str, str], dict[str, int]]:
    """Load `sources` for every simulated workspace that has them; (source, workspace) → rows per table."""
    registry = simulator_registry(world, server)
    rows = {}
    for source in sources:
        for workspace in registry.with_provider(source):
            loaded = load(source_named(source), workspace)
            assert loaded.ok, loaded.error
            rows[source, workspace.id] = loaded.rows_by_table
    return rows


def revops_dbt_executable() -> str:
    found = Path(sys.executable).with_name("revops-dbt")
    assert found.exists(), "the revops-dbt console script is not installed (pip install -e .)"
    return str(found)


@dataclass
class DbtRun:
    returncode: int
    output: str
    results: list[dict[str, Any]]
    """run_results.json's results: one per node, with `unique_id` and `status`."""

    def assert_ok(self) -> DbtRun:
        assert self.returncode == 0, self.output
        return self


# The checkout's parse (`make setup`, `make test`): a home's first dbt command starts from it, as
# dagster-dbt's runs do, instead of parsing the whole project again (~7 s of CPU per command). dbt
# re-parses whatever changed since, so a stale copy costs time, never correctness.
PARTIAL_PARSE = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"


def _seed_partial_parse(target_path: Path) -> None:
    seeded = target_path / PARTIAL_PARSE.name
    if PARTIAL_PARSE.exists() and not seeded.exists():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copy(PARTIAL_PARSE, seeded)


def run_dbt(home: Path, *args: str, timeout: float = 900) -> DbtRun:
    """`revops-dbt <args>` in a child process, as a user runs it, with artifacts and logs kept in `home`
    (not in the shared checkout). Call inside `isolated_warehouse(home)` with no client open."""
    target_path = home / "dbt_target"
    _seed_partial_parse(target_path)
    run_results = target_path / "run_results.json"
    run_results.unlink(missing_ok=True)
    env = {**os.environ, "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(home / "dbt_logs")}
    completed = subprocess.run(
        [revops_dbt_executable(), *args], env=env, cwd=home, capture_output=True, text=True, timeout=timeout
    )
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    return DbtRun(completed.returncode, completed.stdout + completed.stderr, results)
