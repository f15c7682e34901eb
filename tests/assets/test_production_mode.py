"""Production is explicit: a workspace registry or a one-line error at load, and no simulator code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from revops.assets.definitions import build_definitions, defs
from revops.assets.resources import RegistryProviders, providers_from
from revops.core.paths import REPO_ROOT
from revops.core.settings import ConfigurationError, Settings, get_settings

REGISTRY = '[workspaces.acme]\nname = "Acme"\n[workspaces.acme.stripe]\n'


def _load_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    monkeypatch.delenv("REVOPS_WORKSPACES_FILE", raising=False)
    monkeypatch.delenv("REVOPS_PROVIDERS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as raised:
            defs()  # what `dagster dev` / `dagster api grpc -m revops.assets.definitions` load
    finally:
        get_settings.cache_clear()
    return str(raised.value)


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_production_without_a_registry_fails_at_load_in_one_line_naming_the_setting(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _load_error(monkeypatch, **({} if value is None else {"REVOPS_WORKSPACES_FILE": value}))
    assert "\n" not in message
    assert message.startswith("REVOPS_WORKSPACES_FILE is not set")
    assert "Is a directory" not in message


def test_the_compose_stack_default_fails_at_load_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["dagster-code"]["environment"]
    # Compose's own interpolation of the documented default, with the variable not set on the host.
    default = re.fullmatch(r"\$\{REVOPS_WORKSPACES_FILE:-(.*)\}", environment["REVOPS_WORKSPACES_FILE"])
    assert default is not None, environment["REVOPS_WORKSPACES_FILE"]
    assert "REVOPS_PROVIDERS" not in environment  # production: the registry
    message = _load_error(monkeypatch, REVOPS_WORKSPACES_FILE=default.group(1))
    assert "\n" not in message and "REVOPS_WORKSPACES_FILE" in message


def test_a_registry_file_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path) -> None:
    providers = providers_from(Settings(providers="registry", workspaces_file=tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match=r"missing\.toml") as raised, providers.open_registry():
        pass
    assert "\n" not in str(raised.value)


def test_an_unknown_provider_plugin_names_the_setting_and_what_is_installed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_definitions(Settings(providers="simulatd"))
    assert "REVOPS_PROVIDERS='simulatd'" in str(raised.value) and "simulated" in str(raised.value)


def test_production_definitions_import_no_simulator_module(tmp_path: Path) -> None:
    registry = tmp_path / "workspaces.toml"
    registry.write_text(REGISTRY)
    program = (
        "import json, sys\n"
        "from revops.assets.definitions import defs\n"
        "loaded = defs()\n"
        "loaded.resolve_job_def('revops_main')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    env |= {"REVOPS_HOME": str(tmp_path / "home"), "REVOPS_WORKSPACES_FILE": str(registry)}
    completed = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    modules = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "revops.assets.definitions" in modules
    assert [m for m in modules if m.split(".")[0] in ("revops_simulator", "aiosmtpd")] == []


def test_the_registry_resource_reads_the_file(tmp_path: Path) -> None:
    registry = tmp_path / "workspaces.toml"
    registry.write_text(REGISTRY)
    providers = providers_from(Settings(providers="registry", workspaces_file=registry))
    assert isinstance(providers, RegistryProviders)
    with providers.open_registry() as opened:
        assert [workspace.id for workspace in opened.with_provider("stripe")] == ["acme"]


def _revops(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")} | {"REVOPS_HOME": str(home)}
    revops = Path(sys.executable).with_name("revops")
    return subprocess.run(
        [str(revops), *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_revops_run_without_a_registry_exits_with_one_line(tmp_path: Path) -> None:
    completed = _revops("run", home=tmp_path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    (line,) = completed.stderr.strip().splitlines()
    assert "REVOPS_WORKSPACES_FILE is not set" in line and "--demo" in line


def test_the_simulator_plugin_adds_its_commands(tmp_path: Path) -> None:
    completed = _revops("--help", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert " demo " in completed.stdout and " sim " in completed.stdout


def test_the_production_image_carries_no_simulator_or_its_dependencies() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {"simulator", "tests", "bench"} <= set(ignored)
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert any("-r requirements.lock" in line for line in installs)
    assert not any("simulator" in line or "requirements-dev" in line for line in installs)
    pinned = {
        line.split("==")[0]
        for line in (REPO_ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert not pinned & {"aiosmtpd", "pytest", "ruff", "schemathesis"}
    assert {"dagster", "dlt", "dbt-core", "fastapi", "httpx"} <= pinned
