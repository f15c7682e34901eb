"""`revops api-keys create|list|revoke`: the API's keys, stored as hashes in the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from revops.api.keys import ApiKeyError, Scope, create_key, list_keys, revoke_key
from revops.core.warehouse import connect

app = typer.Typer(help="API keys for the REST API (one workspace each, scoped).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


@app.command()
def create(
    workspace: Annotated[str, typer.Option(help="The workspace the key reads.")],
    scope: Annotated[
        list[Scope], typer.Option(help="A scope the key has; repeat for several.", show_default=False)
    ],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    test: Annotated[bool, typer.Option("--test", help="An rk_test_ key instead of rk_live_.")] = False,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    try:
        with connect() as client:
            created = create_key(client, workspace, scope, name=name, mode="test" if test else "live")
    except ApiKeyError as exc:
        errors.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    key = created.key
    console.print(f"Created {key.key_id} for workspace {key.workspace_id} ({', '.join(sorted(key.scopes))}).")
    console.print("Copy the key now; it cannot be shown again:")
    print(created.secret)


@app.command("list")
def list_(workspace: Annotated[str | None, typer.Option(help="Only this workspace's keys.")] = None) -> None:
    """Keys with their display prefix, scopes and state (never the secret)."""
    with connect() as client:
        keys = list_keys(client, workspace)
    if not keys:
        console.print("No API keys.")
        return
    table = Table(header_style="bold")
    for column in ("Key id", "Prefix", "Workspace", "Name", "Scopes", "Created", "Revoked"):
        table.add_column(column, no_wrap=column in ("Key id", "Prefix"))
    for key in keys:
        table.add_row(
            key.key_id,
            f"{key.display_prefix}…",
            key.workspace_id,
            key.name,
            " ".join(sorted(key.scopes)),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (key_…) from `revops api-keys list`.")],
) -> None:
    """Revoke a key: requests with it fail with 401 (within REVOPS_API_KEY_CACHE_S on a running API)."""
    try:
        with connect() as client:
            key = revoke_key(client, key_id)
    except ApiKeyError as exc:
        errors.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    console.print(f"Revoked {key.key_id} ({key.display_prefix}…, workspace {key.workspace_id}).")
