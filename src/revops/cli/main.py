"""`revops`: run the pipeline, query the warehouse, inspect it; plug-ins add commands (`demo`, `sim`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from revops.cli.api_keys import app as api_keys_app
from revops.cli.bi_users import app as bi_users_app
from revops.cli.output import OutputFormat, render
from revops.core.plugins import CLI_GROUP, plugins
from revops.core.settings import REGISTRY_PROVIDERS, ConfigurationError, get_settings

app = typer.Typer(help="revops: Stripe, bank and books in one ClickHouse warehouse.", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(bi_users_app, name="bi-users")
console = Console()
errors = Console(stderr=True)

DEMO_PROVIDERS = "simulated"
"""The provider plug-in `revops run --demo` uses (the revops-simulator distribution)."""


@app.command()
def run(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Load the simulated businesses (REVOPS_PROVIDERS=simulated) instead of the registry.",
        ),
    ] = False,
) -> None:
    """Run the main job (load every source for every workspace, build and test the models)."""
    from revops.cli.running import print_summary, run_main_job

    settings = get_settings()
    if demo:
        settings = settings.model_copy(update={"providers": DEMO_PROVIDERS})
    source = (
        f"registry {settings.workspaces_file}"
        if settings.providers == REGISTRY_PROVIDERS
        else f"the {settings.providers} providers"
    )
    console.print(f"revops run: {source} → {settings.resolved_warehouse_url.split('@')[-1]}")
    try:
        outcome = run_main_job(console, settings)
    except ConfigurationError as error:
        typer.secho(f"revops run: {error}", err=True, fg="red")
        raise typer.Exit(2) from None
    print_summary(console, outcome, settings)
    raise typer.Exit(0 if outcome.success else 1)


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="SQL to run; omit for an interactive prompt.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """Query the warehouse (embedded or server)."""
    from revops.cli.inspect import execute

    if query is not None:
        result = execute(query)
        render(console, result.columns, result.rows, output)
        return
    console.print("revops sql: one statement per line; 'exit' or Ctrl-D to leave.")
    while True:
        try:
            line = input("revops> ").strip()
        except EOFError:
            break
        if line.lower() in ("exit", "quit", r"\q"):
            break
        if not line:
            continue
        try:
            result = execute(line)
        except Exception as exc:  # the prompt survives a bad query
            errors.print(f"[red]{exc}[/red]")
            continue
        render(console, result.columns, result.rows, output)


@app.command()
def status() -> None:
    """Tables and views of raw, staging and marts (rows per workspace), and each connection's last sync."""
    from revops.cli.status import print_status

    print_status(console)


@app.command()
def report(
    workspace: Annotated[
        list[str] | None, typer.Option(help="A workspace to report on; repeat for several (default: all).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for <workspace>.html (default: REVOPS_HOME/reports).")
    ] = None,
) -> None:
    """Write an offline HTML report per workspace: MRR, movements, cohorts, recovery, exceptions, usage."""
    from revops.reporting import write_reports

    written = write_reports(out or get_settings().home / "reports", workspace)
    if not written:
        errors.print("No workspace has metrics yet: run `revops run` first.")
        raise typer.Exit(1)
    for name, path in written.items():
        console.print(f"{name}: {path}")


def add_plugin_commands(cli: typer.Typer) -> None:
    """Commands installed plug-ins register under `revops.cli` (the simulator's `demo` and `sim`)."""
    for entry in plugins(CLI_GROUP):
        command = entry.load()
        if isinstance(command, typer.Typer):
            cli.add_typer(command, name=entry.name)
        else:
            cli.command(name=entry.name)(command)


add_plugin_commands(app)
