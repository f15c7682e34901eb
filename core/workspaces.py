"""The workspace registry: which tenants revops loads, and where their providers are.

A registry is a TOML file (`REVOPS_WORKSPACES_FILE`):

    [workspaces.acme]
    name = "Acme Analytics"

    [workspaces.acme.stripe]
    api_base = "https://api.stripe.com"     # optional

Secrets do not belong in this file: a Stripe key is resolved by dlt from the environment
(`STRIPE_ACME__SOURCES__STRIPE__API_KEY`) or `.dlt/secrets.toml` (`[stripe_acme.sources.stripe]
api_key = "sk_live_…"`). A registry built in code (the demo's, pointing at the simulator) may carry
keys directly.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError

WORKSPACE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class RegistryError(ValueError):
    """A workspace registry that cannot be read or does not validate."""


class StripeAccount(BaseModel):
    api_base: str = "https://api.stripe.com"
    api_key: SecretStr | None = Field(
        default=None, description="Normally left out here and resolved by dlt from env or secrets.toml."
    )


class Workspace(BaseModel):
    id: str = Field(
        pattern=WORKSPACE_ID_PATTERN, description="Tenant id; stored as workspace_id on every row."
    )
    name: str
    stripe: StripeAccount | None = None


class WorkspaceRegistry(BaseModel):
    workspaces: list[Workspace]

    def with_stripe(self) -> list[Workspace]:
        return [workspace for workspace in self.workspaces if workspace.stripe is not None]


def load_registry(path: Path) -> WorkspaceRegistry:
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"cannot read workspace registry {path}: {exc}") from exc
    entries = document.get("workspaces", {})
    try:
        registry = WorkspaceRegistry(
            workspaces=[{"id": workspace_id, **entry} for workspace_id, entry in entries.items()]
        )
    except ValidationError as exc:
        raise RegistryError(f"invalid workspace registry {path}: {exc}") from exc
    if not registry.workspaces:
        raise RegistryError(f"workspace registry {path} names no workspaces under [workspaces.<id>]")
    return registry
