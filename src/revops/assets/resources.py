"""Dagster resources: the warehouse and the provider accounts of each workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client
from dagster import ConfigurableResource
from revops_simulator import SimulatorServer, World
from revops_simulator.actions import ActionLog, action_log_path
from revops_simulator.mailbox import Mailbox
from revops_simulator.registry import simulator_registry

from revops.core.settings import get_settings, simulator_clock
from revops.core.warehouse import connect
from revops.core.workspaces import WorkspaceRegistry, load_registry


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

    def simulated_world(self) -> World:
        """The simulated world, with the actions taken against earlier simulators of it (REVOPS_HOME)."""
        actions = ActionLog(action_log_path(get_settings().home, self.sim_seed, self.sim_scale))
        return World(self.sim_seed, simulator_clock(self.sim_as_of), self.sim_scale, actions)

    @contextmanager
    def open_registry(self) -> Iterator[WorkspaceRegistry]:
        if self.workspaces_file:
            yield load_registry(Path(self.workspaces_file))
            return
        world = self.simulated_world()
        with SimulatorServer(world) as server:
            yield simulator_registry(world, server)

    @contextmanager
    def open_for_actions(self) -> Iterator[ActionTargets]:
        """Where dunning acts: the registry's accounts and the configured SMTP server at the wall clock,
        or the simulator (its Stripe API and its customers' mail server) at the simulator's clock."""
        if self.workspaces_file:
            yield ActionTargets(load_registry(Path(self.workspaces_file)), None, datetime.now(UTC))
            return
        world = self.simulated_world()
        with SimulatorServer(world) as server, Mailbox(world) as mailbox:
            yield ActionTargets(simulator_registry(world, server), (mailbox.host, mailbox.port), world.now)


@dataclass(frozen=True)
class ActionTargets:
    registry: WorkspaceRegistry
    smtp: tuple[str, int] | None
    """(host, port) replacing the configured SMTP server, or None."""
    now: datetime
    """The business clock actions are decided and stamped at."""


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
