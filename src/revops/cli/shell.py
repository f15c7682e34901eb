"""`revops sql` without a query: an interactive prompt on prompt_toolkit.

History is kept in `$REVOPS_HOME/sql_history`; Enter runs the input once it ends with `;` or `\\G`
(otherwise it starts a new line of the same statement); Tab completes keywords, databases, tables and
columns; Ctrl-C cancels a running statement (or clears the line), Ctrl-D leaves.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.sql import SqlLexer
from rich.console import Console
from sqlparse.keywords import KEYWORDS_COMMON

from revops.cli.errors import is_operator_error, one_line
from revops.cli.output import OutputFormat, render
from revops.cli.sql import Catalog, QueryCancelled, is_complete, read_catalog, run_statement, split_statements
from revops.core.warehouse import WarehouseBusyError, current_target

PROMPT = "revops> "
CONTINUATION = "     -> "
LEAVE_COMMANDS = ("exit", "quit", "\\q")
CATALOG_LOCK_WAIT_S = 1.0
"""How long a Tab press waits for a busy embedded warehouse before completing keywords only."""

_WORD_BEFORE_CURSOR = re.compile(r"[\w.]*$")


def history_path(home: Path) -> Path:
    return home / "sql_history"


def _is_leave_command(text: str) -> bool:
    return text.strip().rstrip(";").strip().lower() in LEAVE_COMMANDS


class CatalogCompleter(Completer):
    """Completes from the warehouse's catalog, read on the first Tab of the session (then kept)."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None

    def _read(self) -> Catalog | None:
        if self._catalog is None:
            try:
                self._catalog = read_catalog(timeout_s=CATALOG_LOCK_WAIT_S)
            except WarehouseBusyError:
                return None  # a pipeline run holds the warehouse: keywords now, names on a later Tab
        return self._catalog

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        word = _WORD_BEFORE_CURSOR.search(document.text_before_cursor)
        typed = word.group(0) if word else ""
        catalog = self._read()
        if "." in typed:
            database, _, prefix = typed.rpartition(".")
            tables = catalog.tables.get(database, []) if catalog else []
            for table in tables:
                if table.lower().startswith(prefix.lower()):
                    yield Completion(f"{database}.{table}", start_position=-len(typed), display_meta="table")
            return
        if not typed:
            return
        keywords = catalog.keywords if catalog else sorted(KEYWORDS_COMMON)
        names: list[tuple[str, str]] = [(keyword.upper(), "keyword") for keyword in keywords]
        if catalog:
            names += [(database, "database") for database in catalog.databases]
            names += [
                (f"{database}.{table}", "table")
                for database, tables in sorted(catalog.tables.items())
                for table in sorted(tables)
            ]
            names += [(column, "column") for column in catalog.columns]
        seen: set[str] = set()
        for name, kind in names:
            if name.lower().startswith(typed.lower()) and name not in seen:
                seen.add(name)
                yield Completion(name, start_position=-len(typed), display_meta=kind)


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        text = buffer.text
        if not text.strip() or _is_leave_command(text) or is_complete(text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")  # the statement goes on until `;` or `\G`

    return bindings


def run_input(text: str, console: Console, fmt: OutputFormat, max_rows: int | None) -> None:
    """Run every statement in `text` in order, each result printed before the next runs."""
    statements = split_statements(text)
    for number, statement in enumerate(statements):
        result = run_statement(statement, max_rows)
        if number and not console.is_terminal and fmt is OutputFormat.table:
            console.out("")  # piped: a blank line between results
        render(
            console,
            result.columns,
            result.rows,
            fmt,
            vertical=statement.vertical,
            hidden_rows=result.hidden_rows,
            elapsed_s=result.elapsed_s,
        )


def _run_interactively(
    text: str, console: Console, errors: Console, fmt: OutputFormat, max_rows: int | None
) -> None:
    try:
        run_input(text, console, fmt, max_rows)
    except QueryCancelled as cancelled:
        errors.print(f"[yellow]Query {cancelled}[/yellow]")
    except KeyboardInterrupt:
        errors.print("[yellow]Interrupted[/yellow]")  # while waiting for the warehouse or printing
    except Exception as error:  # the prompt survives a bad statement; the rest of that input is skipped
        message = one_line(error) if is_operator_error(error) else f"{type(error).__name__}: {error}"
        errors.print(message, style="red", markup=False, highlight=False)


def run_shell(console: Console, errors: Console, home: Path, fmt: OutputFormat, max_rows: int | None) -> None:
    if not sys.stdin.isatty():  # `revops sql < script.sql`: the same statements, no prompt
        run_input(sys.stdin.read(), console, fmt, max_rows)
        return
    history = history_path(home)
    home.mkdir(parents=True, exist_ok=True)
    # Statements can carry secrets (`CREATE USER … IDENTIFIED BY`): the history is the owner's only.
    history.touch(mode=0o600, exist_ok=True)
    history.chmod(0o600)
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)),
        multiline=True,
        key_bindings=_key_bindings(),
        prompt_continuation=CONTINUATION,
        completer=CatalogCompleter(),
        complete_while_typing=False,
        lexer=PygmentsLexer(SqlLexer),
        enable_history_search=False,
    )
    errors.print(
        f"revops sql on {current_target().describe()}. End a statement with ; (or \\G for one line per "
        "value); Tab completes, Ctrl-C cancels, Ctrl-D leaves.",
        highlight=False,
        markup=False,
    )
    while True:
        try:
            text = session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line
        except EOFError:
            return
        if _is_leave_command(text):
            return
        if text.strip():
            _run_interactively(text, console, errors, fmt, max_rows)
