"""The simulator's own settings (`REVOPS_SIM_*` variables, or a `.env` file); revops' never carry them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVOPS_SIM_", env_file=".env", extra="ignore")

    seed: int = Field(default=42, description="Seed of the simulated businesses.")
    scale: float = Field(default=1.0, gt=0, description="Business size (1.0 ≈ 250 customers per workspace).")
    as_of: str | None = Field(
        default=None,
        description="Clock: YYYY-MM-DD (the day's end) or YYYY-MM-DDTHH:MM (UTC); default today.",
    )

    @property
    def clock(self) -> date:
        return simulator_clock(self.as_of)


def simulator_clock(as_of: str | None) -> date:
    """The simulated providers' date: the given one, or today in UTC. An instant (`YYYY-MM-DDTHH:MM`, UTC)
    gives a datetime (a `date` too): the simulator's clock stops there instead of at the day's end."""
    if as_of and "T" in as_of:
        moment = datetime.fromisoformat(as_of)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()


@lru_cache
def get_simulator_settings() -> SimulatorSettings:
    return SimulatorSettings()
