"""Rendering query results for people (tables, vertical rows) and programs (plain TSV, CSV, JSON)."""

from __future__ import annotations

import contextlib
import csv
import enum
import io
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEFAULT_PAGER = "less -SRFX"
"""Chop long lines (scroll sideways), keep colours, quit when the result fits, leave it on screen."""


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: never through float
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def _text(value: Any) -> str:
    return "NULL" if value is None else str(_plain(value))


def _tsv_field(value: Any) -> str:
    # ClickHouse's TabSeparated escaping, so a value never breaks a line or a column.
    if value is None:
        return "\\N"
    text = str(_plain(value))
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _rows_line(shown: int, hidden: int, elapsed_s: float | None) -> str:
    total = shown + hidden
    line = f"{total:,} row{'s' if total != 1 else ''}"
    if elapsed_s is not None:
        line += f" in {elapsed_s:.3f}s"
    if hidden:
        line += f" ({hidden:,} more not shown: LIMIT the query, or --max-rows 0 shows every row)"
    return line


UNBOUNDED_WIDTH = 1_000_000


def _natural_width(console: Console, table: Table) -> int:
    """The table's width with no value folded (rich otherwise measures within the terminal's width)."""
    return console.measure(table, options=console.options.update_width(UNBOUNDED_WIDTH)).maximum


def _page(console: Console, table: Table) -> None:
    """Print a table too wide or too long for the terminal through a pager, at its natural width."""
    width = _natural_width(console, table)
    wide = Console(width=max(width, console.width), force_terminal=True, color_system=console.color_system)
    with wide.capture() as captured:
        wide.print(table)
    pager = shlex.split(os.environ.get("PAGER") or DEFAULT_PAGER)
    if not pager or shutil.which(pager[0]) is None:
        console.print(table)
        return
    with contextlib.suppress(KeyboardInterrupt):  # leaving the pager early is not an error
        subprocess.run(pager, input=captured.get(), text=True, check=False)


def _print_table(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(*(escape(name) for name in columns), header_style="bold")
    for row in rows:
        table.add_row(*(escape(_text(value)) for value in row))
    too_wide = _natural_width(console, table) > console.width
    too_long = len(rows) + 4 > console.height
    if console.is_terminal and (too_wide or too_long):
        _page(console, table)
    else:
        console.print(table)


def _print_vertical(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # clickhouse-client's `\G`: a heading per row, then one `column: value` line per column.
    name_width = max((len(name) for name in columns), default=0)
    for number, row in enumerate(rows, start=1):
        heading = f"Row {number}:"
        console.out("" if number == 1 else "\n", heading, sep="", highlight=False)
        if console.is_terminal:
            console.out("─" * len(heading), style="dim", highlight=False)
        for name, value in zip(columns, row, strict=True):
            text = _text(value) if console.is_terminal else _tsv_field(value)
            console.out(f"{name.rjust(name_width)}: {text}", highlight=False)


def render(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: OutputFormat,
    *,
    vertical: bool = False,
    hidden_rows: int = 0,
    elapsed_s: float | None = None,
) -> None:
    """One result. A table in a terminal has a rows line after it; piped, it is plain tab-separated text."""
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[_plain(value) for value in row] for row in rows])
        console.out(buffer.getvalue(), end="", highlight=False)
    elif fmt is OutputFormat.json:
        records = [{name: _plain(value) for name, value in zip(columns, row, strict=True)} for row in rows]
        console.out(json.dumps(records, indent=2, ensure_ascii=False), highlight=False)
    elif vertical:
        _print_vertical(console, columns, rows)
    elif console.is_terminal:
        _print_table(console, columns, rows)
    else:
        # Straight to the file: the console would expand the tabs into spaces.
        console.file.write("\t".join(_tsv_field(name) for name in columns) + "\n")
        for row in rows:
            console.file.write("\t".join(_tsv_field(value) for value in row) + "\n")
    if fmt is OutputFormat.table and console.is_terminal:
        console.print(f"[dim]{escape(_rows_line(len(rows), hidden_rows, elapsed_s))}[/dim]")
