"""`revops-dbt`: dbt for the configured warehouse, with the embedded (chDB) swap in this one place.

dbt-clickhouse talks to ClickHouse through a clickhouse-connect client built in
`ChHttpClient._create_client`. For an embedded warehouse this launcher replaces that factory with the
chDB-backed client from `core.warehouse` and holds the warehouse lock while dbt runs; for a server it
changes nothing. profiles.yml reads the connection from the environment this launcher sets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from revops.core.paths import DBT_PROJECT_DIR
from revops.core.settings import get_settings
from revops.core.warehouse import WarehouseTarget, current_target, hold_embedded_lock, open_client_for

# dbt commands that never open a connection; they run without taking the embedded warehouse.
OFFLINE_COMMANDS = frozenset({"parse", "ls", "list", "deps", "clean", "init", "docs serve"})


def profile_env(target: WarehouseTarget, cluster: str | None = None) -> dict[str, str]:
    """Environment read by dbt_project/profiles.yml (env_var() only) to reach `target`; a server that is
    a ClickHouse cluster (REVOPS_WAREHOUSE_CLUSTER) gets the `cluster` target."""
    env = {
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "REVOPS_DBT_TARGET": "embedded" if target.is_embedded else "cluster" if cluster else "server",
    }
    if not target.is_embedded:
        env |= {
            "REVOPS_CH_HOST": target.host,
            "REVOPS_CH_PORT": str(target.port),
            "REVOPS_CH_USER": target.username,
            "REVOPS_CH_PASSWORD": target.password,
            "REVOPS_CH_SECURE": "true" if target.secure else "false",
        }
        if cluster:
            env["REVOPS_CH_CLUSTER"] = cluster
    return env


def install_embedded_client(target: WarehouseTarget) -> None:
    """Make dbt-clickhouse's HTTP client wrapper use the in-process chDB engine at `target.path`."""
    from dbt.adapters.clickhouse.httpclient import ChHttpClient

    def create_embedded_client(self: ChHttpClient, credentials: Any) -> Any:
        return open_client_for(target, settings=self._conn_settings)

    ChHttpClient._create_client = create_embedded_client  # type: ignore[method-assign]


def _run_dbt_cli(args: Sequence[str]) -> int:
    from dbt.cli.main import cli

    try:
        cli.main(args=list(args), prog_name="dbt")  # standalone: dbt's own error handling and exit codes
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


DBT_COMMANDS = frozenset(
    {
        "build",
        "clean",
        "clone",
        "compile",
        "debug",
        "deps",
        "docs",
        "init",
        "list",
        "ls",
        "parse",
        "retry",
        "run",
        "run-operation",
        "seed",
        "show",
        "snapshot",
        "source",
        "test",
    }
)


def run_in_child(*args: str) -> subprocess.CompletedProcess[str]:
    """`revops-dbt <args>` in a child process, output captured; the child takes the warehouse itself,
    so the caller must not hold it."""
    launcher = Path(sys.executable).with_name("revops-dbt")
    return subprocess.run([str(launcher), *args], capture_output=True, text=True, check=False)


def dbt_command(args: Sequence[str]) -> str:
    """The subcommand in a dbt argument list (`docs serve` counts as one), or "" for none.

    Options may come first and take values (`--log-format json build`), so the command is the
    first argument that names one.
    """
    position = next((i for i, arg in enumerate(args) if arg in DBT_COMMANDS), None)
    if position is None:
        return ""
    if args[position] == "docs" and "serve" in args[position + 1 :]:
        return "docs serve"
    return args[position]


def run(args: Sequence[str]) -> int:
    target = current_target()
    os.environ.update(profile_env(target, get_settings().warehouse_cluster))
    # A test runs only when everything it reads is built by this invocation or selected with it: a
    # selection (`--select +marts.recovery`, a Dagster subset) never fails on a relationship test to a
    # model it did not build. An explicit --indirect-selection or DBT_INDIRECT_SELECTION wins.
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    command = dbt_command(args)
    if not target.is_embedded or not command or command in OFFLINE_COMMANDS:
        return _run_dbt_cli(args)
    with hold_embedded_lock():
        install_embedded_client(target)
        return _run_dbt_cli(args)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
