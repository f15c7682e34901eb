"""The simulator's commands in the `revops` CLI (entry points `revops.cli`: `revops sim …`, `revops demo`).

Imports stay inside the commands: `revops` loads this module on every invocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from revops_simulator.settings import SimulatorSettings

console = Console()

sim_app = typer.Typer(help="The simulated providers used by the demo and the tests.", no_args_is_help=True)

SimAsOf = Annotated[
    str | None, typer.Option(help="Simulator clock, YYYY-MM-DD (default: REVOPS_SIM_AS_OF, else today, UTC).")
]
SimScale = Annotated[
    float | None, typer.Option(help="Simulated business size (1.0 ≈ 250 customers per workspace).")
]
SimSeed = Annotated[int | None, typer.Option(help="Simulator seed.")]


def _simulator_settings(as_of: str | None, scale: float | None, seed: int | None) -> SimulatorSettings:
    """REVOPS_SIM_* settings with the command line's options on top."""
    from revops_simulator.settings import get_simulator_settings

    options = {"as_of": as_of, "scale": scale, "seed": seed}
    return get_simulator_settings().model_copy(update={k: v for k, v in options.items() if v is not None})


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

    from revops.core.settings import get_settings
    from revops_simulator import Faults, SimulatorServer, World
    from revops_simulator.actions import ActionLog, action_log_path
    from revops_simulator.mailbox import Mailbox

    simulator = _simulator_settings(as_of, scale, seed)
    # The actions taken against this world before (dunning), kept under REVOPS_HOME.
    actions = ActionLog(action_log_path(get_settings().home, simulator.seed, simulator.scale))
    world = World(simulator.seed, simulator.clock, simulator.scale, actions)
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
    from revops.core.settings import get_settings
    from revops_simulator.demo import print_demo_summary, run_demo

    simulator = _simulator_settings(as_of, scale, seed)
    settings = get_settings()
    end = simulator.clock
    console.print(f"revops demo: {days} days to {end}, scale {simulator.scale}, into {settings.home}")
    run_demo(console, days, end, holdout_share, settings=settings, simulator=simulator)
    print_demo_summary(console)
