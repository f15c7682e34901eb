"""`revops`: run the pipeline, query the warehouse, inspect it; plug-ins add commands (`demo`, `sim`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from revops.cli.api_keys import app as api_keys_app
from revops.cli.bi_users import app as bi_users_app
from revops.cli.errors import DEBUG, OneLineErrors
from revops.cli.output import OutputFormat
from revops.cli.quarantine import app as quarantine_app
from revops.core.plugins import CLI_GROUP, plugins
from revops.core.settings import REGISTRY_PROVIDERS, ConfigurationError, Settings, get_settings

if TYPE_CHECKING:
    from revops.cli.running import RunTargets

app = typer.Typer(
    cls=OneLineErrors,
    help="revops: Stripe, bank and books in one ClickHouse warehouse.",
    no_args_is_help=True,
    # A traceback's locals would print settings such as the warehouse URL, password included.
    pretty_exceptions_show_locals=False,
)
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(bi_users_app, name="bi-users")
app.add_typer(quarantine_app, name="quarantine")
console = Console()
errors = Console(stderr=True)

DEMO_PROVIDERS = "simulated"
"""The provider plug-in `revops run --demo` uses (the revops-simulator distribution)."""


DEFAULT_MAX_ROWS = 1000


@app.callback()
def main(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an error instead of one line.")
    ] = False,
) -> None:
    """revops: Stripe, bank and books in one ClickHouse warehouse."""
    ctx.meta[DEBUG] = debug
    driver_log = logging.getLogger("clickhouse_connect")
    if not debug and not driver_log.handlers:
        # The driver logs a warning before raising the error we print on one line anyway.
        driver_log.addHandler(logging.NullHandler())


WorkspaceOption = Annotated[
    list[str] | None,
    typer.Option("--workspace", "-w", help="Only this workspace; repeat for several (default: all)."),
]
SourceOption = Annotated[
    list[str] | None,
    typer.Option("--source", "-s", help="Only this source; repeat for several (default: all)."),
]


@contextmanager
def _refused_with_status_2(command: str) -> Iterator[None]:
    """A run revops cannot start as asked (no registry, an unknown workspace or source, a warehouse not
    built for a partial run) is one line and exit status 2, as for a bad option."""
    try:
        yield
    except ConfigurationError as error:
        typer.secho(f"revops {command}: {error}", err=True, fg="red")
        raise typer.Exit(2) from None


def _settings_for(demo: bool) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"providers": DEMO_PROVIDERS}) if demo else settings


def _run_targets(settings: Settings, workspaces: list[str] | None, sources: list[str] | None) -> RunTargets:
    """The workspaces and sources asked for, checked against the configured ones."""
    from revops.assets.resources import providers_from
    from revops.cli.running import resolve_targets
    from revops.pipelines.sources import SOURCES

    known_workspaces = providers_from(settings).workspace_ids() if workspaces else []
    return resolve_targets(known_workspaces, [s.name for s in SOURCES], workspaces or [], sources or [])


def _run(settings: Settings, targets: RunTargets, command: str) -> None:
    from revops.cli.running import print_summary, run_main_job

    source = (
        f"registry {settings.workspaces_file}"
        if settings.providers == REGISTRY_PROVIDERS
        else f"the {settings.providers} providers"
    )
    scope = "".join(
        f" ({kind}: {', '.join(names)})"
        for kind, names in (("workspaces", targets.workspaces), ("sources", targets.sources))
        if names
    )
    console.print(f"revops {command}: {source}{scope} → {settings.resolved_warehouse_url.split('@')[-1]}")
    with _refused_with_status_2(command):
        outcome = run_main_job(console, settings, targets)
    print_summary(console, outcome, settings)
    raise typer.Exit(0 if outcome.success else 1)


@app.command()
def run(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Load the simulated businesses (REVOPS_PROVIDERS=simulated) instead of the registry.",
        ),
    ] = False,
    workspace: WorkspaceOption = None,
    source: SourceOption = None,
) -> None:
    """Run the main job: load every source for every workspace (or those named: their raw tables and
    the models built from them; the others' raw rows stay as they are), build and test the models."""
    settings = _settings_for(demo)
    with _refused_with_status_2("run"):
        targets = _run_targets(settings, workspace, source)
    _run(settings, targets, "run")


@app.command()
def backfill(
    workspace: Annotated[list[str], typer.Option("--workspace", "-w", help="The workspace; repeatable.")],
    source: Annotated[list[str], typer.Option("--source", "-s", help="The source; repeatable.")],
    since: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="Re-sync from this day (UTC)."),
    ],
    demo: Annotated[bool, typer.Option("--demo", help="On the simulated businesses.")] = False,
) -> None:
    """Move the workspace's source cursors back to --since and re-sync it (rows merge on their keys:
    running it twice changes nothing; no other workspace is touched). docs/operations.md says what
    --since means for each source."""
    from revops.assets.resources import providers_from
    from revops.pipelines.runner import rewind
    from revops.pipelines.sources import source_named

    settings = _settings_for(demo)
    moment = since if since.tzinfo else since.replace(tzinfo=UTC)
    with _refused_with_status_2("backfill"):
        targets = _run_targets(settings, workspace, source)
        with providers_from(settings).open_registry() as registry:
            for name in targets.sources:
                having = {ws.id for ws in registry.with_provider(name)}
                for workspace_id in targets.workspaces:
                    if workspace_id not in having:
                        raise ConfigurationError(f"workspace {workspace_id!r} has no {name} account")
    for name in targets.sources:
        for workspace_id in targets.workspaces:
            rewound = rewind(source_named(name), workspace_id, moment)
            state = (
                f"cursors moved back to {moment:%Y-%m-%d %H:%M} UTC" if rewound else "never loaded: loads all"
            )
            console.print(f"revops backfill: {name} {workspace_id}: {state}")
    _run(settings, targets, "backfill")


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(help="SQL to run (statements separated by ;); omit for an interactive prompt."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    max_rows: Annotated[
        int,
        typer.Option(
            "--max-rows", min=0, help="Rows of a result shown as a table in a terminal (0: all); piped: all."
        ),
    ] = DEFAULT_MAX_ROWS,
) -> None:
    """Query the warehouse (embedded or server): a statement, or an interactive prompt."""
    from revops.cli.shell import run_input, run_shell
    from revops.cli.sql import QueryCancelled

    capped = max_rows if max_rows and output is OutputFormat.table and console.is_terminal else None
    if query is None:
        run_shell(console, errors, get_settings().home, output, capped)
        return
    try:
        run_input(query, console, output, capped)
    except QueryCancelled as cancelled:
        errors.print(f"revops sql: query {cancelled}", markup=False, highlight=False)
        raise typer.Exit(130) from None


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
