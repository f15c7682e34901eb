"""`revops quarantine list|release`: the records a blocking expectation keeps out of staging, and
re-admitting them after their fix (validated again; an audit row per released record)."""

from __future__ import annotations

import getpass
from contextlib import ExitStack
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from revops.core.settings import ConfigurationError, get_settings
from revops.core.warehouse import connect
from revops.pipelines.quarantine import EXTRACTION_STAGE
from revops.quality.quarantine import QuarantineEntry, quarantined

app = typer.Typer(help="Records quarantined by the raw-table expectations.", no_args_is_help=True)
console = Console()

TableOption = Annotated[str | None, typer.Option("--table", help="Only records of this raw table.")]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Only records whose reason or expectation contains this text.")
]
WorkspaceOption = Annotated[str | None, typer.Option("--workspace", "-w", help="Only this workspace.")]


def _matching(
    entries: list[QuarantineEntry], workspace: str | None, table: str | None, reason: str | None
) -> list[QuarantineEntry]:
    return [
        entry
        for entry in entries
        if (workspace is None or entry.workspace_id == workspace)
        and (table is None or entry.table_name == table)
        and (reason is None or reason in entry.reason or reason in entry.expectation)
    ]


@app.command("list")
def list_command(
    workspace: WorkspaceOption = None, table: TableOption = None, reason: ReasonOption = None
) -> None:
    """Quarantined records: workspace, source table, record, why, at which stage and since when."""
    with connect() as client:
        entries = _matching(quarantined(client), workspace, table, reason)
    listing = Table(
        "Id", "Workspace", "Table", "Record", "Reason", "Stage", "Quarantined at", header_style="bold"
    )
    for entry in entries:
        listing.add_row(
            entry.entry_id,
            entry.workspace_id,
            entry.table_name,
            entry.record_id,
            entry.reason,
            entry.stage,
            f"{entry.quarantined_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(listing)
    console.print(f"{len(entries)} quarantined record(s)")


@app.command()
def release(
    ids: Annotated[list[str] | None, typer.Argument(help="Ids from `revops quarantine list`.")] = None,
    why: Annotated[
        str, typer.Option("--why", help="The fix that makes the records loadable (audited).")
    ] = "",
    workspace: WorkspaceOption = None,
    table: TableOption = None,
    reason: ReasonOption = None,
) -> None:
    """Re-admit records after their fix: those a source rejected are fetched again from the provider
    and loaded if now valid; all are validated again; those that pass reach staging on the next dbt
    build (`revops run`), those that still fail stay quarantined; each release is audited in
    raw.quarantine_releases."""
    from revops.quality.validation import release_quarantined

    if not why.strip():
        raise ConfigurationError("say why the records may be released: --why '<the fix>'")
    if not ids and workspace is None and table is None and reason is None:
        raise ConfigurationError("name the records to release: ids, or --workspace/--table/--reason")
    with connect() as client:
        every = quarantined(client)
        unknown = sorted(set(ids or []) - {entry.entry_id for entry in every})
        if unknown:
            raise ConfigurationError(
                f"no quarantined record has id {', '.join(unknown)} (see `revops quarantine list`)"
            )
        chosen = _matching(every, workspace, table, reason)
        if ids:
            chosen = [entry for entry in chosen if entry.entry_id in ids]
        with ExitStack() as stack:
            registry = None
            if any(entry.stage == EXTRACTION_STAGE for entry in chosen):
                # Records a source rejected are fetched again from their provider.
                from revops.assets.resources import providers_from

                registry = stack.enter_context(providers_from(get_settings()).open_registry())
            released, failing = release_quarantined(client, chosen, why.strip(), getpass.getuser(), registry)
    for entry in released:
        console.print(f"released {entry.entry_id} {entry.workspace_id} {entry.table_name} {entry.record_id}")
    for entry in failing:
        console.print(
            f"[yellow]still failing[/yellow] {entry.entry_id} {entry.workspace_id} {entry.table_name} "
            f"{entry.record_id}: {entry.reason}"
        )
    console.print(f"{len(released)} released, {len(failing)} still quarantined")
    raise typer.Exit(1 if failing or not chosen else 0)
