"""The workspace registry: which tenants revops loads, and where each one's provider accounts are.

A registry is a TOML file (`REVOPS_WORKSPACES_FILE`), one table per workspace and one sub-table per
provider account, named after the source that loads it (`revops.pipelines.sources`):

    [workspaces.acme]
    name = "Acme Analytics"

    [workspaces.acme.stripe]
    api_base = "https://api.stripe.com"     # optional

    [workspaces.acme.quickbooks]
    realm_id = "9130350000000001"

Each source declares the model of its section; this module knows none of them, so adding a source
never touches it. The file is strict: an unknown section or field is an error naming the file, the
line and the closest valid name, because a misspelled `[workspaces.acme.strpe]` silently loading
nothing is worse than not starting.

Secrets do not belong in this file. dlt resolves each source's secrets from the environment or
`.dlt/secrets.toml` under the pipeline `<source>_<workspace>`: `STRIPE_ACME__SOURCES__STRIPE__API_KEY`,
or `[stripe_acme.sources.stripe] api_key = "sk_live_…"`. A registry built in code (the demo's,
pointing at the simulator) may carry them directly.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

WORKSPACE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
WORKSPACE_FIELDS = ("name",)
"""The keys of a workspace table that are not provider accounts."""


class RegistryError(ValueError):
    """A workspace registry that cannot be read or does not validate; the message is one line."""


class Account(BaseModel):
    """Base of every source's registry section: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Workspace(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(
        pattern=WORKSPACE_ID_PATTERN, description="Tenant id; stored as workspace_id on every row."
    )
    name: str
    accounts: Mapping[str, Account] = Field(
        default_factory=dict, description="Source name → the provider account that source loads."
    )

    def account(self, source: str) -> Account | None:
        return self.accounts.get(source)


class WorkspaceRegistry(BaseModel):
    workspaces: list[Workspace]

    def with_provider(self, source: str) -> list[Workspace]:
        """The workspaces that have an account for `source` (stripe, plaid, …)."""
        return [workspace for workspace in self.workspaces if source in workspace.accounts]

    def ids(self) -> list[str]:
        return [workspace.id for workspace in self.workspaces]


def _closest(name: str, valid: list[str]) -> str:
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f"did you mean {match[0]!r}?" if match else f"expected one of {', '.join(sorted(valid)) or '-'}"


def _line_of(text: str, pattern: str) -> int | None:
    found = re.search(pattern, text, flags=re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def parse_registry(path: Path, text: str, account_models: Mapping[str, type[Account]]) -> WorkspaceRegistry:
    """Validate a registry document against the sources' account models (`account_models`)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"cannot read workspace registry {path}: {exc}") from exc
    unknown_top = sorted(set(document) - {"workspaces"})
    if unknown_top:
        name = unknown_top[0]
        line = _line_of(text, rf"^[ \t]*\[+\s*{re.escape(name)}\b")
        raise RegistryError(f"{_where(path, line)}: unknown table [{name}]; {_closest(name, ['workspaces'])}")
    workspaces = []
    for workspace_id, entry in document.get("workspaces", {}).items():
        if not isinstance(entry, dict):
            raise RegistryError(f"{path}: workspaces.{workspace_id} must be a table")
        accounts: dict[str, Account] = {}
        for key, value in entry.items():
            if key in WORKSPACE_FIELDS:
                continue
            header = rf"^[ \t]*\[\s*workspaces\.{re.escape(workspace_id)}\.{re.escape(key)}\s*\]"
            if key not in account_models:
                line = _line_of(text, header) or _line_of(text, rf"^[ \t]*{re.escape(key)}\s*=")
                valid = [*WORKSPACE_FIELDS, *account_models]
                raise RegistryError(
                    f"{_where(path, line)}: unknown section or field {key!r} in workspace "
                    f"{workspace_id!r}; {_closest(key, valid)}"
                )
            try:
                accounts[key] = account_models[key].model_validate(value)
            except ValidationError as exc:
                error = exc.errors()[0]
                field = ".".join(str(part) for part in error["loc"]) or key
                section_line = _line_of(text, header)
                line = section_line
                if section_line and error["loc"]:
                    after = "\n".join(text.splitlines()[section_line:])
                    offset = _line_of(after, rf"^[ \t]*{re.escape(str(error['loc'][0]))}\s*=")
                    line = section_line + offset if offset else section_line
                hint = ""
                if error["type"] == "extra_forbidden":
                    hint = "; " + _closest(str(error["loc"][0]), list(account_models[key].model_fields))
                raise RegistryError(
                    f"{_where(path, line)}: workspaces.{workspace_id}.{key}.{field}: {error['msg']}{hint}"
                ) from exc
        workspace_line = _line_of(text, rf"^[ \t]*\[\s*workspaces\.{re.escape(workspace_id)}\s*\]")
        try:
            workspaces.append(Workspace(id=workspace_id, name=entry.get("name"), accounts=accounts))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"])
            raise RegistryError(
                f"{_where(path, workspace_line)}: workspace {workspace_id!r}: {field}: {error['msg']}"
            ) from exc
    if not workspaces:
        raise RegistryError(f"workspace registry {path} names no workspaces under [workspaces.<id>]")
    return WorkspaceRegistry(workspaces=workspaces)


def load_registry(path: Path, account_models: Mapping[str, type[Account]]) -> WorkspaceRegistry:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RegistryError(f"cannot read workspace registry {path}: {exc.strerror or exc}") from exc
    return parse_registry(path, text, account_models)
