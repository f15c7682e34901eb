"""`revops`: run the pipeline, query the warehouse, inspect it, serve the simulator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from revops.cli.api_keys import app as api_keys_app
from revops.cli.bi_users import app as bi_users_app
from revops.cli.output import OutputFormat, render
from revops.core.settings import get_settings

app = typer.Typer(help="revops: Stripe, bank and books in one ClickHouse warehouse.", no_args_is_help=True)
sim_app = typer.Typer(help="The simulated providers used by the demo and the tests.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(bi_users_app, name="bi-users")
console = Console()
errors = Console(stderr=True)

SimAsOf = Annotated[str | None, typer.Option(help="Simulator clock, YYYY-MM-DD (default: today, UTC).")]
SimScale = Annotated[
    float | None, typer.Option(help="Simulated business size (1.0 ≈ 250 customers per workspace).")
]
SimSeed = Annotated[int | None, typer.Option(help="Simulator seed.")]


def _override_simulator(as_of: str | None, scale: float | None, seed: int | None) -> None:
    """Command-line options win over REVOPS_SIM_*; settings are read once, after this."""
    for name, value in (("REVOPS_SIM_AS_OF", as_of), ("REVOPS_SIM_SCALE", scale), ("REVOPS_SIM_SEED", seed)):
        if value is not None:
            os.environ[name] = str(value)
    get_settings.cache_clear()


@app.command()
def run(as_of: SimAsOf = None, scale: SimScale = None, seed: SimSeed = None) -> None:
    """Run the main job (load every source for every workspace, build and test the models)."""
    from revops.cli.running import print_summary, run_main_job

    _override_simulator(as_of, scale, seed)
    settings = get_settings()
    source = f"registry {settings.workspaces_file}" if settings.workspaces_file else "the simulated providers"
    console.print(f"revops run: {source} → {settings.resolved_warehouse_url.split('@')[-1]}")
    outcome = run_main_job(console)
    print_summary(console, outcome)
    raise typer.Exit(0 if outcome.success else 1)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, help="Simulated days to run, ending on the clock's day.")] = 30,
    as_of: SimAsOf = None,
    scale: SimScale = None,
    seed: SimSeed = None,
    holdout_share: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of customers held out of dunning.")
    ] = 0.5,
) -> None:
    """Simulate N days of failed payments and dunning, day by day (load, recovery models, sensor, actions)."""
    from datetime import date as date_type

    from revops.cli.demo import print_demo_summary, run_demo

    _override_simulator(as_of, scale, seed)
    settings = get_settings()
    end = date_type.fromisoformat(as_of) if as_of else settings.sim_clock
    console.print(f"revops demo: {days} days to {end}, scale {settings.sim_scale}, into {settings.home}")
    run_demo(console, days, end, holdout_share)
    print_demo_summary(console)


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
    """Tables in raw, staging and marts with row counts per workspace."""
    from rich.table import Table

    from revops.cli.inspect import warehouse_status

    statuses = warehouse_status()
    workspaces = sorted({ws for status in statuses for ws in status.rows_by_workspace})
    table = Table("Table", "Engine", "Rows", *workspaces, header_style="bold")
    for status in statuses:
        per_workspace = [
            f"{status.rows_by_workspace.get(ws, 0):,}" if status.rows_by_workspace else ""
            for ws in workspaces
        ]
        table.add_row(f"{status.database}.{status.table}", status.engine, f"{status.rows:,}", *per_workspace)
    console.print(table if statuses else "The warehouse is empty: run `revops run` first.")


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


@sim_app.command("serve")
def sim_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    as_of: SimAsOf = None,
    scale: SimScale = None,
    seed: SimSeed = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Requests per second per API key before 429.")
    ] = None,
    error_rate: Annotated[float, typer.Option(help="Share of requests answered with a 5xx.")] = 0.0,
) -> None:
    """Serve the simulated providers until interrupted."""
    import threading

    from revops_simulator import Faults, SimulatorServer, World
    from revops_simulator.actions import ActionLog, action_log_path
    from revops_simulator.mailbox import Mailbox

    _override_simulator(as_of, scale, seed)
    settings = get_settings()
    # The actions taken against this world before (dunning), kept under REVOPS_HOME.
    actions = ActionLog(action_log_path(settings.home, settings.sim_seed, settings.sim_scale))
    world = World(settings.sim_seed, settings.sim_clock, settings.sim_scale, actions)
    faults = Faults(rate_limit_per_s=rate_limit, error_rate=error_rate)
    with SimulatorServer(world, faults=faults, port=port) as server, Mailbox(world) as mailbox:
        console.print(f"Simulated providers at {server.base_url} (clock {world.now:%Y-%m-%d %H:%M} UTC)")
        console.print(f"  customers' mail server: SMTP {mailbox.host}:{mailbox.port}")
        for workspace in world.workspaces:
            console.print(f"  {workspace.id}: Stripe {server.stripe_base_url} key {workspace.stripe_api_key}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped")
