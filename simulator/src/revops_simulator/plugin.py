"""The simulated providers as a revops provider plug-in (`REVOPS_PROVIDERS=simulated`).

Registered under the `revops.providers` entry point (simulator/pyproject.toml). It implements revops'
provider interface like the production registry does: the Dagster assets and jobs cannot tell the
two apart, and the sources talk to the simulator's HTTP APIs exactly as to the real ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from revops.assets.resources import ActionTargets, ProviderAccountsResource
from revops.core.settings import Settings
from revops.core.workspaces import WorkspaceRegistry
from revops_simulator.actions import ActionLog, action_log_path
from revops_simulator.business.clock import to_datetime
from revops_simulator.business.tenants import TENANTS
from revops_simulator.mailbox import Mailbox
from revops_simulator.registry import simulator_registry
from revops_simulator.server import SimulatorServer
from revops_simulator.settings import get_simulator_settings, simulator_clock
from revops_simulator.world import World, clock_of


class SimulatedProviders(ProviderAccountsResource):
    """The demo: the simulated businesses, served on 127.0.0.1 for as long as a step needs them, with
    the actions taken against earlier simulators of the same world (kept under `home`)."""

    home: str
    seed: int = 42
    scale: float = 1.0
    as_of: str | None = None
    """The simulator's clock (YYYY-MM-DD or an instant); None: today."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatedProviders:
        simulator = get_simulator_settings()
        return cls(home=str(settings.home), seed=simulator.seed, scale=simulator.scale, as_of=simulator.as_of)

    def world(self) -> World:
        actions = ActionLog(action_log_path(Path(self.home), self.seed, self.scale))
        return World(self.seed, simulator_clock(self.as_of), self.scale, actions)

    @contextmanager
    def open_registry(self) -> Iterator[WorkspaceRegistry]:
        world = self.world()
        with SimulatorServer(world) as server:
            yield simulator_registry(world, server, Path(self.home))

    @contextmanager
    def open_for_actions(self) -> Iterator[ActionTargets]:
        """The simulator's Stripe API and its customers' mail server, at the simulator's clock."""
        world = self.world()
        with SimulatorServer(world) as server, Mailbox(world) as mailbox:
            registry = simulator_registry(world, server, Path(self.home))
            # Card-update links need a signing key; the simulated customers' is derived from the seed
            # (a real install sets REVOPS_DUNNING_LINK_SECRET).
            link_secret = hashlib.sha256(f"revops-simulator:{self.seed}:card-update-links".encode()).digest()
            yield ActionTargets(registry, (mailbox.host, mailbox.port), world.now, link_secret)

    def now(self) -> datetime:
        return to_datetime(clock_of(simulator_clock(self.as_of)))

    def workspace_ids(self) -> list[str]:
        # The simulated tenants are fixed: no need to build the world (seconds) to name them.
        return [tenant.id for tenant in TENANTS]
