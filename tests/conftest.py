"""Shared fixtures: every test gets its own REVOPS_HOME, so its own embedded warehouse and state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import get_settings


@pytest.fixture
def revops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "revops"))
    monkeypatch.delenv("REVOPS_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("REVOPS_WORKSPACES_FILE", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "revops"
    get_settings.cache_clear()
