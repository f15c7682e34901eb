"""The workspace registry: which tenants revops loads, and where their providers are.

A registry is a TOML file (`REVOPS_WORKSPACES_FILE`):

    [workspaces.acme]
    name = "Acme Analytics"

    [workspaces.acme.stripe]
    api_base = "https://api.stripe.com"     # optional

    [workspaces.acme.plaid]
    api_base = "https://production.plaid.com"

    [workspaces.acme.quickbooks]
    realm_id = "9130350000000001"

    [workspaces.acme.usage]                  # feed_url, or drop_dir = "/data/usage/acme"
    feed_url = "https://events.acme.example/usage"

Secrets do not belong in this file. dlt resolves each source's secrets from the environment or
`.dlt/secrets.toml` under the pipeline `<source>_<workspace>`: `STRIPE_ACME__SOURCES__STRIPE__API_KEY`,
or `[stripe_acme.sources.stripe] api_key = "sk_live_…"`. A registry built in code (the demo's,
pointing at the simulator) may carry them directly.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

WORKSPACE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class RegistryError(ValueError):
    """A workspace registry that cannot be read or does not validate."""


class StripeAccount(BaseModel):
    api_base: str = "https://api.stripe.com"
    api_key: SecretStr | None = Field(
        default=None, description="Normally left out here and resolved by dlt from env or secrets.toml."
    )


class PlaidAccount(BaseModel):
    """A Plaid client and the Items (bank logins) linked for this workspace."""

    api_base: str = "https://production.plaid.com"
    client_id: str | None = None
    secret: SecretStr | None = None
    access_tokens: list[SecretStr] = Field(default_factory=list, description="One per linked Item.")


class OAuthAccount(BaseModel):
    """An OAuth2 connection to an accounting API; refresh tokens rotate on every refresh."""

    api_base: str
    token_url: str
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None


class QuickBooksAccount(OAuthAccount):
    api_base: str = "https://quickbooks.api.intuit.com"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    realm_id: str = Field(description="The QuickBooks company id.")


class XeroAccount(OAuthAccount):
    api_base: str = "https://api.xero.com"
    token_url: str = "https://identity.xero.com/connect/token"
    tenant_id: str = Field(description="The Xero organisation (Xero-tenant-id header).")


class UsageAccount(BaseModel):
    """Where a workspace's product-usage events (CloudEvents) come from: an HTTP feed or file drops."""

    feed_url: str | None = Field(
        default=None, description="Base URL of a cursor-paginated event feed (`GET {feed_url}/v1/events`)."
    )
    api_key: SecretStr | None = Field(
        default=None, description="The feed's Bearer token; normally resolved by dlt (env or secrets.toml)."
    )
    drop_dir: Path | None = Field(
        default=None, description="Directory of JSON Lines (.jsonl) and Parquet (.parquet) event files."
    )
    meters_file: Path | None = Field(
        default=None, description="Meters config (YAML); default: the one shipped in pipelines/usage."
    )

    @model_validator(mode="after")
    def _one_delivery_style(self) -> UsageAccount:
        if (self.feed_url is None) == (self.drop_dir is None):
            raise ValueError("a usage account needs exactly one of feed_url and drop_dir")
        return self


class Workspace(BaseModel):
    id: str = Field(
        pattern=WORKSPACE_ID_PATTERN, description="Tenant id; stored as workspace_id on every row."
    )
    name: str
    stripe: StripeAccount | None = None
    plaid: PlaidAccount | None = None
    quickbooks: QuickBooksAccount | None = None
    xero: XeroAccount | None = None
    usage: UsageAccount | None = None


class WorkspaceRegistry(BaseModel):
    workspaces: list[Workspace]

    def with_provider(self, provider: str) -> list[Workspace]:
        """The workspaces that have an account with `provider` (a Workspace field: stripe, plaid …)."""
        return [workspace for workspace in self.workspaces if getattr(workspace, provider) is not None]


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
