"""`revops api-keys create|list|revoke`: the API's keys, stored as hashes in the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer
from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Table

from revops.api.keys import ApiKeyError, Scope, create_key, list_keys, revoke_key
from revops.core.settings import REGISTRY_PROVIDERS, ConfigurationError, get_settings
from revops.core.warehouse import connect
from revops.core.workspaces import RegistryError
from revops.pipelines.loading import RAW_DATABASE
from revops.pipelines.syncs import SYNC_ATTEMPTS_TABLE

app = typer.Typer(help="API keys for the REST API (one workspace each, scoped).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def known_workspaces(client: Client) -> set[str]:
    """The workspaces a key may be made for: those of the configured providers (the registry file, or a
    plug-in's such as the simulated ones) and those the warehouse has loaded data for (a workspace
    dropped from the registry whose data the API still serves). No registry configured is no error
    here: the warehouse alone then says what exists."""
    from revops.assets.resources import providers_from  # Dagster: imported only when needed

    settings = get_settings()
    known: set[str] = set()
    if settings.providers != REGISTRY_PROVIDERS or settings.workspaces_file is not None:
        known.update(providers_from(settings).workspace_ids())
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {tbl:String}",
        parameters={"db": RAW_DATABASE, "tbl": SYNC_ATTEMPTS_TABLE},
    )
    if int(exists):
        rows = client.query(f"SELECT DISTINCT workspace_id FROM {RAW_DATABASE}.{SYNC_ATTEMPTS_TABLE}")
        known.update(row[0] for row in rows.result_rows)
    return known


@app.command()
def create(
    workspace: Annotated[str, typer.Option(help="The workspace the key reads.")],
    scope: Annotated[
        list[Scope], typer.Option(help="A scope the key has; repeat for several.", show_default=False)
    ],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    test: Annotated[bool, typer.Option("--test", help="An rk_test_ key instead of rk_live_.")] = False,
) -> None:
    """Create a key and print it once: only its hash is stored. The workspace must be known: in the
    workspace registry (or the configured providers) or loaded into the warehouse."""
    try:
        with connect() as client:
            created = create_key(
                client,
                workspace,
                scope,
                name=name,
                mode="test" if test else "live",
                known_workspaces=known_workspaces(client),
            )
    except (ApiKeyError, RegistryError, ConfigurationError) as exc:
        errors.print(str(exc), style="red", markup=False, soft_wrap=True)
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
        errors.print(str(exc), style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"Revoked {key.key_id} ({key.display_prefix}…, workspace {key.workspace_id}).")
