"""Dagster resources: where each workspace's provider accounts are.

`ProviderAccountsResource` is the one interface the assets and jobs use. Production uses
`RegistryProviders` (the workspace registry file); a provider plug-in — the demo's simulated
businesses, from the separate revops-simulator distribution — implements the same interface and is
chosen by name (`REVOPS_PROVIDERS`) where the Definitions are built, the way Dagster's
`project_fully_featured` swaps a real and a fake client. revops never imports a plug-in's code: it is
found through its entry point (`revops.core.plugins`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from dagster import ConfigurableResource

from revops.core.plugins import PROVIDERS_GROUP, load_plugin
from revops.core.settings import REGISTRY_PROVIDERS, ConfigurationError, Settings
from revops.core.workspaces import WorkspaceRegistry
from revops.pipelines.sources import load_workspace_registry


@dataclass(frozen=True)
class ActionTargets:
    """Where dunning acts."""

    registry: WorkspaceRegistry
    smtp: tuple[str, int] | None
    """(host, port) replacing the configured SMTP server, or None."""
    now: datetime
    """The business clock actions are decided and stamped at."""
    link_secret: bytes | None = None
    """Key signing card-update links, replacing REVOPS_DUNNING_LINK_SECRET (the simulator's own)."""


class ProviderAccountsResource(ConfigurableResource):
    """Which workspaces to load, where their providers are, and the providers' clock."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The resource as configured by revops' settings (and the plug-in's own, if any)."""

    @abstractmethod
    def open_registry(self) -> AbstractContextManager[WorkspaceRegistry]:
        """The workspaces and their accounts, reachable for as long as the block runs."""

    @abstractmethod
    def open_for_actions(self) -> AbstractContextManager[ActionTargets]:
        """The accounts dunning acts on, the SMTP server to use and the clock to act at."""

    @abstractmethod
    def now(self) -> datetime:
        """The providers' current instant (UTC): what "now" means for their data."""

    def workspace_ids(self) -> list[str]:
        """The workspaces' ids, without reaching any provider where the plug-in can (a cheap question)."""
        with self.open_registry() as registry:
            return registry.ids()


class RegistryProviders(ProviderAccountsResource):
    """Production: the workspaces of the registry file, at the wall clock; secrets from env or dlt."""

    workspaces_file: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryProviders:
        if settings.workspaces_file is None:
            raise ConfigurationError(
                "REVOPS_WORKSPACES_FILE is not set: revops needs a workspace registry file naming your "
                "workspaces and their provider accounts (docs/deploy.md); for the demo on simulated "
                "providers set REVOPS_PROVIDERS=simulated (or run `revops run --demo`)"
            )
        return cls(workspaces_file=str(settings.workspaces_file))

    def registry(self) -> WorkspaceRegistry:
        return load_workspace_registry(Path(self.workspaces_file))

    @contextmanager
    def open_registry(self) -> Iterator[WorkspaceRegistry]:
        yield self.registry()

    @contextmanager
    def open_for_actions(self) -> Iterator[ActionTargets]:
        yield ActionTargets(self.registry(), None, self.now())

    def now(self) -> datetime:
        return datetime.now(UTC)

    def workspace_ids(self) -> list[str]:
        return self.registry().ids()


def providers_from(settings: Settings) -> ProviderAccountsResource:
    """The provider resource `settings.providers` names: the registry, or an installed plug-in."""
    if settings.providers == REGISTRY_PROVIDERS:
        return RegistryProviders.from_settings(settings)
    plugin = load_plugin(PROVIDERS_GROUP, settings.providers, setting="REVOPS_PROVIDERS")
    if not (isinstance(plugin, type) and issubclass(plugin, ProviderAccountsResource)):
        raise ConfigurationError(
            f"REVOPS_PROVIDERS={settings.providers!r}: the plug-in is not a ProviderAccountsResource"
        )
    return plugin.from_settings(settings)
