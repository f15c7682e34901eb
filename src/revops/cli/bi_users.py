"""`revops bi-users create`: a read-only ClickHouse user for one workspace, for BI tools (docs/bi.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from revops.core.bi_users import BiUserError, apply_bi_user, plan_bi_user, redacted
from revops.core.ddl import warehouse_dialect
from revops.core.warehouse import connect, current_target

app = typer.Typer(
    help="Per-tenant, read-only warehouse users for BI tools (servers only).", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


@app.command()
def create(
    workspace: Annotated[str, typer.Option(help="The only workspace the user may read.")],
    user: Annotated[str | None, typer.Option(help="User name (default: revops_bi_<workspace>).")] = None,
    print_sql: Annotated[
        bool, typer.Option("--print-sql", help="Print the statements (password redacted) and change nothing.")
    ] = False,
) -> None:
    """Create (or sync) the user: SELECT on the marts, a row policy per mart on workspace_id.

    Run it again after new marts appear: grants and policies are re-applied, the password kept."""
    target = current_target()
    if target.is_embedded and not print_sql:
        errors.print(
            "The embedded warehouse has no users or row policies: BI tools connect to a ClickHouse "
            "server (REVOPS_WAREHOUSE_URL=http(s)://…; docs/bi.md). --print-sql shows the statements.",
            style="red",
            markup=False,
        )
        raise typer.Exit(2)
    try:
        with connect() as client:
            plan = plan_bi_user(client, workspace, user, warehouse_dialect())
            if print_sql:
                for statement in plan.statements("<generated>"):
                    print(redacted(statement) + ";")
                return
            password = apply_bi_user(client, plan)
    except BiUserError as exc:
        errors.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    tables = len(plan.tenant_tables) + len(plan.shared_tables)
    console.print(
        f"{plan.user}: SELECT on {tables} marts, {len(plan.tenant_tables)} row policies "
        f"({plan.workspace_id} only) on {target.describe()}."
    )
    if password is not None:
        console.print("Copy the password now; it cannot be shown again:")
        print(password)
    else:
        console.print("The user existed: grants and policies re-applied, password unchanged.")
