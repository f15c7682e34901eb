"""Plug-ins: code revops uses without importing it, found through Python entry points.

A distribution installed beside revops registers objects under these groups in its packaging metadata
(the simulator, `simulator/pyproject.toml`, is one). revops looks them up by name only when a setting
or a command asks for one, so a production install without plug-ins never loads their code.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from revops.core.settings import ConfigurationError

PROVIDERS_GROUP = "revops.providers"
"""Provider resources (`revops.assets.resources.ProviderAccountsResource` subclasses), by the name
`REVOPS_PROVIDERS` gives."""
CLI_GROUP = "revops.cli"
"""Commands (a function) or command groups (a `typer.Typer`) added to the `revops` CLI under their name."""


def plugins(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda entry: entry.name)


def load_plugin(group: str, name: str, *, setting: str) -> Any:
    """The object registered as `name` in `group`; a one-line error naming `setting` if there is none."""
    for entry in plugins(group):
        if entry.name == name:
            return entry.load()
    installed = ", ".join(entry.name for entry in plugins(group)) or "none installed"
    raise ConfigurationError(f"{setting}={name!r}: no such plug-in in {group} ({installed})")
