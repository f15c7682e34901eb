"""A seeded, deterministic simulation of two SaaS businesses and the provider APIs that serve them.

    world = World(seed=42, as_of=date(2026, 11, 1), scale=1.0)
    with SimulatorServer(world, faults=Faults(error_rate=0.05)) as server:
        client = stripe.StripeClient(world.workspaces[0].stripe_api_key,
                                     base_addresses={"api": server.stripe_base_url})

`simulator.business` is the businesses themselves (clock, randomness, entities); each provider
package (`simulator.stripe`) renders and serves them; `server` and `faults` are shared plumbing.
"""

from revops_simulator.faults import Faults
from revops_simulator.server import ServerStats, SimulatorServer
from revops_simulator.world import BooksTruth, GroundTruth, SimWorkspace, World

__all__ = ["BooksTruth", "Faults", "GroundTruth", "ServerStats", "SimWorkspace", "SimulatorServer", "World"]
