"""Running ad-hoc SQL for `revops sql`: splitting input into statements, running one with Ctrl-C
cancelling it, and the warehouse catalog the prompt completes from.

Each statement opens the warehouse (`connect()`) for as long as it runs and no longer, so an idle
prompt never keeps the embedded warehouse's lock from a `revops run` in another terminal.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlparse
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from sqlparse import tokens

from revops.core.warehouse import connect

# Statements that return rows; anything else (DDL, INSERT …) runs as a command.
ROW_RETURNING = ("select", "with", "show", "describe", "desc", "explain", "exists", "(")
VERTICAL_TERMINATOR = "\\G"
"""Ends a statement like `;` and asks for one `column: value` line per value (as clickhouse-client)."""

CANCEL_POLL_S = 0.2


@dataclass(frozen=True)
class Statement:
    sql: str
    vertical: bool = False


def _is_terminator(token: sqlparse.sql.Token) -> bool:
    return (token.ttype is tokens.Punctuation and token.value == ";") or (
        token.ttype is tokens.Generic.Command and token.value.upper() == VERTICAL_TERMINATOR.upper()
    )


def _has_content(sql: str) -> bool:
    return bool(sqlparse.format(sql, strip_comments=True).strip())


def split_statements(text: str) -> list[Statement]:
    """The statements in `text`, split on `;` and `\\G` outside strings and comments (sqlparse's lexer)."""
    statements: list[Statement] = []
    current: list[str] = []
    for token in (token for parsed in sqlparse.parse(text) for token in parsed.flatten()):
        if _is_terminator(token):
            sql = "".join(current).strip()
            if _has_content(sql):
                statements.append(Statement(sql, vertical=token.value != ";"))
            current = []
        else:
            current.append(token.value)
    rest = "".join(current).strip()
    if _has_content(rest):
        statements.append(Statement(rest))
    return statements


def is_complete(text: str) -> bool:
    """Whether the input ends a statement: its last token outside comments is `;` or `\\G`."""
    meaningful = [
        token
        for parsed in sqlparse.parse(text)
        for token in parsed.flatten()
        if not token.is_whitespace and token.ttype not in tokens.Comment
    ]
    return bool(meaningful) and _is_terminator(meaningful[-1])


def returns_rows(sql: str) -> bool:
    parsed = sqlparse.parse(sql)
    first = parsed[0].token_first(skip_ws=True, skip_cm=True) if parsed else None
    return first is not None and first.value.lower().startswith(ROW_RETURNING)


@dataclass
class StatementResult:
    columns: list[str]
    rows: list[Sequence[Any]]
    """The first `max_rows` rows (all when there is no cap)."""
    total_rows: int
    elapsed_s: float

    @property
    def hidden_rows(self) -> int:
        return self.total_rows - len(self.rows)


class QueryCancelled(Exception):
    """The user pressed Ctrl-C and the warehouse stopped the statement."""


@dataclass
class _Outcome:
    result: StatementResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _collect(client: Client, sql: str, max_rows: int | None, started: float) -> StatementResult:
    if not returns_rows(sql):
        summary = client.command(sql)
        value = summary if isinstance(summary, str | int) else "OK"
        return StatementResult(["result"], [[value]], 1, time.monotonic() - started)
    kept: list[Sequence[Any]] = []
    total = 0
    # Streamed, so a large result costs the rows shown, not the rows counted.
    with client.query_row_block_stream(sql) as stream:
        columns = list(stream.source.column_names)
        for block in stream:
            room = len(block) if max_rows is None else max(0, max_rows - len(kept))
            kept.extend(block[:room])
            total += len(block)
    if not columns:
        columns = _described_columns(client, sql)
    return StatementResult(columns, kept, total, time.monotonic() - started)


def _described_columns(client: Client, sql: str) -> list[str]:
    """An empty result's column names: chDB sends no header block when there are no rows."""
    try:
        return [row[0] for row in client.query(f"DESCRIBE ({sql}\n)").result_rows]
    except ClickHouseError:
        return []  # not a query DESCRIBE takes (SHOW …): the empty result has no header then


def _kill(marker: str, worker: _Outcome) -> None:
    """Stop the statement tagged `marker` from a second connection until its worker has ended.

    On a server the second connection is another HTTP session; embedded, it is a second chDB handle on
    the engine this process already holds (the lock is re-entrant within a process). Both answer
    `KILL QUERY`, which the engine checks while the statement runs (`sleep` included).
    """
    with connect() as killer:
        while not worker.done.is_set():
            try:
                running = killer.query(
                    "SELECT query_id FROM system.processes "
                    "WHERE position(query, {marker:String}) > 0 AND query_id != queryID()",
                    parameters={"marker": marker},
                ).result_rows
                for (query_id,) in running:
                    killer.command(
                        "KILL QUERY WHERE query_id = {query_id:String} ASYNC",
                        parameters={"query_id": query_id},
                    )
                worker.done.wait(CANCEL_POLL_S)
            except KeyboardInterrupt:
                continue  # already cancelling: wait for the statement to stop


def run_statement(statement: Statement, max_rows: int | None = None) -> StatementResult:
    """Run one statement; Ctrl-C (KeyboardInterrupt) kills it in the warehouse and raises QueryCancelled."""
    marker = f"revops-sql:{uuid.uuid4().hex}"
    # The marker lets the cancelling connection find this statement's query_id in system.processes
    # (chDB accepts no client-chosen query_id, a server does; the comment works on both). At the end,
    # on a line of its own, so positions in syntax errors stay the user's and a `--` comment ends.
    tagged = f"{statement.sql}\n/* {marker} */"
    with connect() as client:
        outcome = _Outcome()
        started = time.monotonic()

        def work() -> None:
            try:
                outcome.result = _collect(client, tagged, max_rows, started)
            except BaseException as error:
                outcome.error = error
            finally:
                outcome.done.set()

        # The statement runs in a worker so the main thread stays free to receive Ctrl-C.
        threading.Thread(target=work, name="revops-sql-statement", daemon=True).start()
        try:
            while not outcome.done.wait(CANCEL_POLL_S):
                pass
        except KeyboardInterrupt:
            while True:  # another Ctrl-C while cancelling (even while connecting) changes nothing
                try:
                    _kill(marker, outcome)
                    break
                except KeyboardInterrupt:
                    continue
            raise QueryCancelled(f"cancelled after {time.monotonic() - started:.1f}s") from None
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result


@dataclass(frozen=True)
class Catalog:
    """Names the prompt completes: databases, `database.table`, columns and ClickHouse's keywords."""

    databases: list[str]
    tables: dict[str, list[str]]
    columns: list[str]
    keywords: list[str]


def read_catalog(timeout_s: float) -> Catalog:
    with connect(timeout_s=timeout_s) as client:
        databases = [row[0] for row in client.query("SELECT name FROM system.databases").result_rows]
        tables: dict[str, list[str]] = {}
        for database, table in client.query("SELECT database, name FROM system.tables").result_rows:
            tables.setdefault(database, []).append(table)
        columns = [
            row[0]
            for row in client.query(
                "SELECT DISTINCT name FROM system.columns WHERE database NOT IN "
                "('system', 'INFORMATION_SCHEMA', 'information_schema')"
            ).result_rows
        ]
        keywords = [row[0] for row in client.query("SELECT keyword FROM system.keywords").result_rows]
    return Catalog(sorted(databases), tables, sorted(columns), sorted(keywords))
