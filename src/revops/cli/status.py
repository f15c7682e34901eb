"""`revops status`: the warehouse's tables and views in pipeline order, each connection's sync status, and
how current each workspace's marts are (their as-of, the stale ones).

On a terminal the sections are rich tables; piped (or redirected), they are plain text, columns padded
with spaces, no colours, box drawing or wrapping, so `grep`, `less` and a file read as well as a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table

from revops.cli.inspect import (
    ConnectionStatus,
    TableStatus,
    WorkspaceFreshness,
    connection_statuses,
    warehouse_status,
    workspace_freshness,
)

ERROR_WIDTH = 100
"""Characters of a connection's last error shown (on one line); the mart and the API have all of it."""
NEEDS_REAUTH = "NEEDS REAUTH"


def _instant(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def one_line(text: str | None, width: int = ERROR_WIDTH) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def connection_state(connection: ConnectionStatus) -> str:
    if connection.needs_reauth:
        return NEEDS_REAUTH
    return "failing" if connection.last_error is not None else "ok"


def _plain_table(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        console.out(line.rstrip(), highlight=False)


def _print_table(
    console: Console, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], styles: Sequence[str]
) -> None:
    if not console.is_terminal:
        console.out(title, highlight=False)
        _plain_table(console, headers, rows)
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, header in enumerate(headers):
        # Names, times and counts stay on one line; only the last column (an error, a count) wraps.
        table.add_column(header, no_wrap=i < len(headers) - 1)
    for row, style in zip(rows, styles, strict=True):
        table.add_row(*row, style=style or None)
    console.print(table)


def table_rows(statuses: Sequence[TableStatus]) -> tuple[list[str], list[list[str]]]:
    workspaces = sorted({ws for status in statuses for ws in status.rows_by_workspace})
    rows = [
        [
            f"{status.database}.{status.table}",
            status.engine,
            _count(status.rows),
            *(
                _count(status.rows_by_workspace.get(ws, 0)) if status.rows_by_workspace else ""
                for ws in workspaces
            ),
        ]
        for status in statuses
    ]
    return ["Table", "Engine", "Rows", *workspaces], rows


def connection_rows(connections: Sequence[ConnectionStatus]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "Workspace",
        "Provider",
        "State",
        "Last success (UTC)",
        "Last attempt (UTC)",
        "Rows",
        "Failures",
        "Last error",
    ]
    rows = [
        [
            connection.workspace_id,
            connection.provider,
            connection_state(connection),
            _instant(connection.last_success_at),
            _instant(connection.last_attempt_at),
            _count(connection.last_success_rows_loaded),
            _count(connection.consecutive_failures),
            one_line(connection.last_error),
        ]
        for connection in connections
    ]
    return headers, rows


def freshness_rows(workspaces: Sequence[WorkspaceFreshness]) -> tuple[list[str], list[list[str]]]:
    headers = ["Workspace", "Data as of (UTC)", "State", "Stale because of", "Stale marts"]
    rows = [
        [
            workspace.workspace_id,
            _instant(workspace.data_as_of),
            "stale" if workspace.stale_marts else "current",
            ", ".join(workspace.stale_providers),
            ", ".join(workspace.stale_marts),
        ]
        for workspace in workspaces
    ]
    return headers, rows


def print_freshness(console: Console) -> None:
    workspaces = workspace_freshness()
    console.out("", highlight=False)
    if not workspaces:
        console.out("Data freshness: no build has run yet.", highlight=False)
        return
    headers, rows = freshness_rows(workspaces)
    _print_table(
        console,
        "Data freshness (from marts.dim_data_freshness; as of: the oldest sync its marts were built from)",
        headers,
        rows,
        ["yellow" if workspace.stale_marts else "" for workspace in workspaces],
    )


def print_status(console: Console) -> None:
    statuses = warehouse_status()
    if not statuses:
        console.print("The warehouse is empty: run `revops run` first.")
        return
    headers, rows = table_rows(statuses)
    _print_table(console, "Tables and views", headers, rows, ["dim" if s.is_view else "" for s in statuses])
    connections, source = connection_statuses()
    console.out("", highlight=False)
    if not connections:
        console.out("Connections: no load has run yet.", highlight=False)
        return
    headers, rows = connection_rows(connections)
    styles = {NEEDS_REAUTH: "bold red", "failing": "yellow", "ok": ""}
    _print_table(
        console,
        f"Connections (from {source})",
        headers,
        rows,
        [styles[connection_state(connection)] for connection in connections],
    )
    print_freshness(console)
