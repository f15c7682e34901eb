"""The workspace registry is strict: a typo is an error naming the file, the line and the closest name."""

from __future__ import annotations

from pathlib import Path

import pytest

from revops.core.workspaces import RegistryError
from revops.pipelines.sources import load_workspace_registry

VALID = """\
[workspaces.acme]
name = "Acme"

[workspaces.acme.stripe]
api_base = "https://api.stripe.com"

[workspaces.acme.quickbooks]
realm_id = "9130350000000001"
"""


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "workspaces.toml"
    path.write_text(text)
    with pytest.raises(RegistryError) as raised:
        load_workspace_registry(path)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_valid_registry_gives_each_workspace_its_accounts(tmp_path: Path) -> None:
    path = tmp_path / "workspaces.toml"
    path.write_text(VALID)
    registry = load_workspace_registry(path)
    (acme,) = registry.workspaces
    assert sorted(acme.accounts) == ["quickbooks", "stripe"]
    assert [w.id for w in registry.with_provider("quickbooks")] == ["acme"]
    assert registry.with_provider("xero") == []


def test_a_misspelled_section_names_file_line_and_closest_source(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID.replace("[workspaces.acme.stripe]", "[workspaces.acme.strpe]"))
    assert message.startswith(f"{tmp_path / 'workspaces.toml'}:4: ")
    assert "'strpe'" in message and "did you mean 'stripe'?" in message


def test_a_misspelled_field_names_file_line_and_closest_field(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID.replace("api_base =", "api_bse ="))
    assert message.startswith(f"{tmp_path / 'workspaces.toml'}:5: ")
    assert "workspaces.acme.stripe.api_bse" in message and "did you mean 'api_base'?" in message


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID.replace('realm_id = "9130350000000001"\n', ""))
    assert "workspaces.acme.quickbooks.realm_id" in message and "required" in message.lower()


def test_an_unknown_top_level_table_and_a_workspace_without_name(tmp_path: Path) -> None:
    assert "did you mean 'workspaces'?" in _load(
        tmp_path, VALID.replace("[workspaces.acme]", "[workspace.acme]")
    )
    message = _load(tmp_path, VALID.replace('name = "Acme"\n', ""))
    assert message.startswith(f"{tmp_path / 'workspaces.toml'}:1: ") and "name" in message


def test_an_empty_registry_or_bad_toml_is_one_line(tmp_path: Path) -> None:
    assert "names no workspaces" in _load(tmp_path, "")
    assert "cannot read workspace registry" in _load(tmp_path, "[workspaces.acme\n")
