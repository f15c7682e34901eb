"""`revops api-keys create|list|revoke`, as a user runs them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from revops.api.keys import KEY_PATTERN, hash_secret
from revops.cli.main import app
from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables
from revops.pipelines.syncs import record_attempt
from tests.support import query

runner = CliRunner()

REGISTRY = """
[workspaces.acme]
name = "Acme"
[workspaces.globex]
name = "Globex"
"""


@pytest.fixture
def registry(revops_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace registry naming acme and globex, configured as production configures it."""
    path = revops_home.parent / "workspaces.toml"
    path.write_text(REGISTRY)
    monkeypatch.setenv("REVOPS_WORKSPACES_FILE", str(path))
    get_settings.cache_clear()
    return path


def _create(workspace: str) -> Result:
    return runner.invoke(app, ["api-keys", "create", "--workspace", workspace, "--scope", "ledger:read"])


def _stored_keys() -> int:
    with connect() as client:
        if not int(client.command("EXISTS TABLE api.api_keys")):
            return 0
        return int(client.command("SELECT count() FROM api.api_keys"))


def test_create_list_revoke(registry: Path) -> None:
    created = runner.invoke(
        app, ["api-keys", "create", "--workspace", "acme", "--scope", "ledger:read", "--scope", "usage:read"]
    )
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert KEY_PATTERN.match(secret) and secret.startswith("rk_live_")
    key_id = re.search(r"Created (key_[0-9a-f]+)", created.output).group(1)  # type: ignore[union-attr]
    stored = query(
        "SELECT toString(key_hash) AS key_hash, scopes FROM api.api_keys WHERE key_id = {k:String}", k=key_id
    )
    assert stored == [{"key_hash": hash_secret(secret), "scopes": ["ledger:read", "usage:read"]}]

    test_key = runner.invoke(
        app, ["api-keys", "create", "--workspace", "globex", "--scope", "metrics:read", "--test"]
    )
    assert test_key.output.strip().splitlines()[-1].startswith("rk_test_")

    listed = runner.invoke(app, ["api-keys", "list", "--workspace", "acme"])
    assert listed.exit_code == 0 and key_id in listed.output and secret[:12] in listed.output
    assert secret not in listed.output and "globex" not in listed.output

    revoked = runner.invoke(app, ["api-keys", "revoke", key_id])
    assert revoked.exit_code == 0 and f"Revoked {key_id}" in revoked.output
    rows = query("SELECT revoked_at FROM api.api_keys FINAL WHERE key_id = {k:String}", k=key_id)
    assert rows[0]["revoked_at"] is not None


def test_bad_requests_fail_clearly(registry: Path) -> None:
    bad_workspace = runner.invoke(
        app, ["api-keys", "create", "--workspace", "Not Valid", "--scope", "ledger:read"]
    )
    assert bad_workspace.exit_code == 2 and "invalid workspace id" in bad_workspace.output
    bad_scope = runner.invoke(app, ["api-keys", "create", "--workspace", "acme", "--scope", "ledger:write"])
    assert bad_scope.exit_code == 2 and "ledger:write" in bad_scope.output
    unknown = runner.invoke(app, ["api-keys", "revoke", "key_0000"])
    assert unknown.exit_code == 2 and "no API key 'key_0000'" in unknown.output


def test_a_workspace_nobody_knows_is_refused_naming_the_known_ones(registry: Path) -> None:
    refused = _create("acmee")

    assert refused.exit_code == 2
    assert refused.output.strip() == "unknown workspace 'acmee': known workspaces are acme, globex"
    assert _stored_keys() == 0
    assert _create("globex").exit_code == 0 and _stored_keys() == 1


def test_without_a_registry_the_warehouse_says_which_workspaces_exist(revops_home: Path) -> None:
    nothing_known = _create("acme")
    assert nothing_known.exit_code == 2 and "no workspace is known yet" in nothing_known.output
    assert len(nothing_known.output.strip().splitlines()) == 1
    ensure_raw_tables()
    now = datetime.now(UTC)
    record_attempt(
        workspace_id="initech",
        source="stripe",
        started_at=now,
        finished_at=now,
        rows_loaded=3,
        error=None,
        needs_reauth=False,
    )

    assert _create("initech").exit_code == 0
    refused = _create("acme")
    assert refused.exit_code == 2 and refused.output.strip().endswith("known workspaces are initech")
    assert _stored_keys() == 1


def test_the_simulated_providers_workspaces_are_known(
    revops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVOPS_PROVIDERS", "simulated")
    get_settings.cache_clear()

    assert _create("acme").exit_code == 0
    refused = _create("initech")
    assert refused.exit_code == 2 and refused.output.strip().endswith("known workspaces are acme, globex")
