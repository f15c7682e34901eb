"""The one place revops reads its environment (`REVOPS_*` variables, or a `.env` file)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from revops.core.paths import REPO_ROOT

REGISTRY_PROVIDERS = "registry"
"""`providers` for production: the workspace registry file."""


class ConfigurationError(ValueError):
    """revops is configured in a way it cannot run with; the message is one line naming the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVOPS_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=REPO_ROOT / ".revops",
        description="Local state: the embedded warehouse, dlt pipeline state, the Dagster instance.",
    )
    warehouse_url: str | None = Field(
        default=None,
        description="chdb:///abs/path or http(s)://user:pass@host:port/db; default: chdb under `home`.",
    )
    warehouse_cluster: str | None = Field(
        default=None,
        description="Name of the ClickHouse cluster the server belongs to (remote_servers); dbt then builds "
        "with its `cluster` target, and revops' own tables (raw, api) are replicated on every node "
        "(core/ddl.py).",
    )
    warehouse_lock_timeout_s: float = Field(
        default=120.0, description="How long to wait for another process holding the embedded warehouse."
    )
    providers: str = Field(
        default=REGISTRY_PROVIDERS,
        description="Where the workspaces' provider accounts come from: `registry` (the workspace registry "
        "file, production) or the name of an installed provider plug-in (`simulated`: the demo's "
        "simulated businesses, from the revops-simulator distribution).",
    )
    workspaces_file: Path | None = Field(
        default=None,
        description="TOML registry of workspaces and their provider accounts (docs/deploy.md); required "
        "when `providers` is `registry`.",
    )
    stripe_resync_days: int = Field(
        default=7, description="Days between full re-syncs of mutable Stripe objects."
    )
    api_rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per minute per API key (also the burst size)."
    )
    api_pool_size: int = Field(default=8, ge=1, description="Warehouse clients the API keeps open.")
    api_warehouse_wait_s: float = Field(
        default=5.0,
        ge=0,
        description="How long an API request waits for the warehouse (a pipeline run holding the "
        "embedded one, or a busy pool) before answering 503.",
    )
    api_embedded_idle_s: float = Field(
        default=2.0, gt=0, description="Idle seconds after which the API lets go of the embedded warehouse."
    )
    api_key_cache_s: float = Field(
        default=5.0, ge=0, description="Seconds an API key lookup is cached (a revocation applies within it)."
    )
    api_query_timeout_s: int = Field(default=10, ge=1, description="ClickHouse max_execution_time per query.")
    api_page_cache_bytes: int = Field(
        default=64 * 2**20,
        ge=0,
        description="Bytes of response pages the API keeps while it holds the embedded warehouse (0: none).",
    )
    api_key_max_concurrent: int = Field(
        default=4,
        ge=1,
        description="Warehouse queries one API key may have running at once (more answer 429), so one "
        "key cannot take the whole pool.",
    )
    api_auth_failures_per_minute: int = Field(
        default=30,
        ge=1,
        description="Unknown or malformed API keys a client address may present per minute (also the "
        "burst); beyond it the API answers 429 without looking the key up.",
    )
    api_public_url: str | None = Field(
        default=None,
        description="The API's public base URL (https://api.example.com), used to build redirects; "
        "without it redirects are relative. Never taken from the request's Host header.",
    )
    # Dunning (docs/recovery.md): live actions are off until a workspace's policy file turns them on.
    dunning_policies_dir: Path = Field(
        default=REPO_ROOT / "dunning" / "policies", description="One dunning policy file per workspace."
    )
    dunning_kill_switch: bool = Field(default=False, description="Stop every dunning action, live or not.")
    dunning_lease_ttl_s: float = Field(
        default=600.0,
        gt=0,
        description="How long a dunning executor's lease on a workspace lasts past its last renewal (it "
        "renews before every action): a crashed executor's workspace is acted on again after this.",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server dunning email is sent through.")
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    dunning_from_address: str = "billing@example.com"
    dunning_link_secret: SecretStr | None = Field(
        default=None, description="HMAC key signing card-update links; required to send card-update email."
    )
    dunning_link_base_url: str = "https://billing.example.com/update-card"
    dunning_link_ttl_hours: int = Field(default=72, ge=1)
    dunning_webhook_url: str | None = Field(default=None, description="Receives signed dunning webhooks.")
    dunning_webhook_secret: SecretStr | None = None

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("workspaces_file", "warehouse_url", "warehouse_cluster", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FOO=` in a compose file or .env means "not set", not the path "." or the URL "".
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"chdb://{self.home / 'warehouse'}"

    @property
    def dlt_pipelines_dir(self) -> Path:
        return self.home / "dlt"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


@lru_cache
def get_settings() -> Settings:
    return Settings()
