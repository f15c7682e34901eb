"""The demo's workspace registry: the simulated workspaces, pointed at a running simulator server."""

from __future__ import annotations

from core import workspaces
from simulator.server import SimulatorServer
from simulator.world import World


def simulator_registry(world: World, server: SimulatorServer) -> workspaces.WorkspaceRegistry:
    return workspaces.WorkspaceRegistry(
        workspaces=[
            workspaces.Workspace(
                id=workspace.id,
                name=workspace.name,
                stripe=workspaces.StripeAccount(
                    api_base=server.stripe_base_url, api_key=workspace.stripe_api_key
                ),
            )
            for workspace in world.workspaces
        ]
    )
