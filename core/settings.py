"""The one place revops reads its environment (`REVOPS_*` variables, or a `.env` file)."""

from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.paths import REPO_ROOT


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
    warehouse_lock_timeout_s: float = Field(
        default=120.0, description="How long to wait for another process holding the embedded warehouse."
    )
    workspaces_file: Path | None = Field(
        default=None,
        description="TOML registry of workspaces and their provider credentials; none means the simulator.",
    )
    sim_seed: int = 42
    sim_scale: float = 1.0
    sim_as_of: str | None = Field(default=None, description="Simulator clock (YYYY-MM-DD); default today.")
    stripe_resync_days: int = Field(
        default=7, description="Days between full re-syncs of mutable Stripe objects."
    )

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"chdb://{self.home / 'warehouse'}"

    @property
    def sim_clock(self) -> date:
        return simulator_clock(self.sim_as_of)

    @property
    def dlt_pipelines_dir(self) -> Path:
        return self.home / "dlt"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def simulator_clock(as_of: str | None) -> date:
    """The simulated providers' date: the given one, or today in UTC."""
    return date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()


@lru_cache
def get_settings() -> Settings:
    return Settings()
