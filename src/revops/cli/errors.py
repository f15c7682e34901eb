"""One-line errors for every `revops` command; `revops --debug <command>` shows the traceback instead.

The errors an operator causes or meets (a query the warehouse rejects, a busy or unreachable warehouse,
a bad warehouse URL, a setting revops cannot run with) are reported as `revops <command>: <message>`
on stderr with exit status 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from typing import Any

import click
import typer
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import ValidationError
from typer.core import TyperGroup

from revops.core.settings import ConfigurationError, Settings
from revops.core.warehouse import DATABASES, WarehouseError

DEBUG = "revops.debug"
"""Key in the Click context's `meta`: whether `--debug` was given."""

OPERATOR_ERRORS: tuple[type[BaseException], ...] = (
    ClickHouseError,
    WarehouseError,
    ConfigurationError,
    ValidationError,
)

_SERVER_MESSAGE = re.compile(r"Code: \d+\..*", re.DOTALL)
_UNKNOWN_DATABASE = re.compile(r"Code: 81\. DB::Exception: Database `?(\w+)`? does not exist")


def _single_line(text: str) -> str:
    return " ".join(text.split())


def clickhouse_message(error: BaseException) -> str:
    """The server's own first message (`Code: 60. DB::Exception: …`), without driver preamble or stack."""
    text = str(error)
    found = _SERVER_MESSAGE.search(text)
    message = found.group(0) if found else text
    message = message.split("Stack trace:")[0]
    # A server repeats the message per attempt or appends its version; the first statement of it is enough.
    message = _single_line(message.split("\n\n")[0])
    missing = _UNKNOWN_DATABASE.search(message)
    if missing and missing.group(1) in DATABASES:
        message += " The warehouse has not been built here yet: run `revops run` first."
    return message


def one_line(error: BaseException) -> str:
    if isinstance(error, ClickHouseError):
        return clickhouse_message(error)
    if isinstance(error, ValidationError) and error.title == Settings.__name__:
        problems = [
            f"REVOPS_{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        ]
        return "invalid setting " + "; ".join(problems)
    return _single_line(str(error))


def is_operator_error(error: BaseException) -> bool:
    if isinstance(error, ValidationError):
        return error.title == Settings.__name__  # other validation errors are bugs
    return isinstance(error, OPERATOR_ERRORS)


class OneLineErrors(TyperGroup):
    """The root command: turns operator errors raised by any subcommand into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OPERATOR_ERRORS as error:
            if ctx.meta.get(DEBUG) or not is_operator_error(error):
                raise
            command = " ".join(filter(None, ["revops", ctx.invoked_subcommand]))
            typer.echo(f"{command}: {one_line(error)}", err=True)
            raise typer.Exit(1) from None
