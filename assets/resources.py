"""Dagster resources: the warehouse and the provider accounts of each workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clickhouse_connect.driver.client import Client
from dagster import ConfigurableResource

from core.settings import get_settings, simulator_clock
from core.warehouse import connect
from core.workspaces import WorkspaceRegistry, load_registry
from simulator import SimulatorServer, World
from simulator.registry import simulator_registry


class WarehouseResource(ConfigurableResource):
    """The revops warehouse; `url` None means REVOPS_WAREHOUSE_URL (or the embedded default)."""

    url: str | None = None

    @contextmanager
    def get_client(self) -> Iterator[Client]:
        with connect(self.url) as client:
            yield client


class ProviderAccountsResource(ConfigurableResource):
    """Which workspaces to load and where their providers are.

    With a registry file, the workspaces it names (credentials from env or dlt secrets). Without one,
    the demo: the simulated businesses, served on 127.0.0.1 for as long as the loading step runs.
    """

    workspaces_file: str | None = None
    sim_seed: int = 42
    sim_scale: float = 1.0
    sim_as_of: str | None = None

    @contextmanager
    def open_registry(self) -> Iterator[WorkspaceRegistry]:
        if self.workspaces_file:
            yield load_registry(Path(self.workspaces_file))
            return
        world = World(seed=self.sim_seed, as_of=simulator_clock(self.sim_as_of), scale=self.sim_scale)
        with SimulatorServer(world) as server:
            yield simulator_registry(world, server)


def default_resources() -> dict[str, ConfigurableResource]:
    settings = get_settings()
    return {
        "warehouse": WarehouseResource(url=settings.warehouse_url),
        "providers": ProviderAccountsResource(
            workspaces_file=str(settings.workspaces_file) if settings.workspaces_file else None,
            sim_seed=settings.sim_seed,
            sim_scale=settings.sim_scale,
            sim_as_of=settings.sim_as_of,
        ),
    }
