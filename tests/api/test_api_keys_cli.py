"""`revops api-keys create|list|revoke`, as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from revops.api.keys import KEY_PATTERN, hash_secret
from revops.cli.main import app
from tests.support import query

runner = CliRunner()


def test_create_list_revoke(revops_home: Path) -> None:
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


def test_bad_requests_fail_clearly(revops_home: Path) -> None:
    bad_workspace = runner.invoke(
        app, ["api-keys", "create", "--workspace", "Not Valid", "--scope", "ledger:read"]
    )
    assert bad_workspace.exit_code == 2 and "invalid workspace id" in bad_workspace.output
    bad_scope = runner.invoke(app, ["api-keys", "create", "--workspace", "acme", "--scope", "ledger:write"])
    assert bad_scope.exit_code == 2 and "ledger:write" in bad_scope.output
    unknown = runner.invoke(app, ["api-keys", "revoke", "key_0000"])
    assert unknown.exit_code == 2 and "no API key 'key_0000'" in unknown.output
