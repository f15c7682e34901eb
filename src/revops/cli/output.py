"""Rendering query results for people (tables) and programs (CSV, JSON)."""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table


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


def render(
    console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: OutputFormat
) -> None:
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[_plain(value) for value in row] for row in rows])
        console.out(buffer.getvalue(), end="", highlight=False)
    elif fmt is OutputFormat.json:
        records = [{name: _plain(value) for name, value in zip(columns, row, strict=True)} for row in rows]
        console.out(json.dumps(records, indent=2, ensure_ascii=False), highlight=False)
    else:
        table = Table(*columns, show_lines=False, header_style="bold")
        for row in rows:
            table.add_row(*("NULL" if value is None else str(_plain(value)) for value in row))
        console.print(table)
        console.print(f"[dim]{len(rows)} row{'s' if len(rows) != 1 else ''}[/dim]")
