"""Shared simulator fixtures: worlds are built once per session; faults and statistics reset per test."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest

from revops_simulator import Faults, GroundTruth, SimulatorServer, World

AS_OF = date(2026, 11, 1)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: SimulatorServer,
    path: str,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    key: str | None = None,
    workspace: int = 0,
) -> Response:
    """GET `path` under the Stripe prefix with the workspace's key (or `key`), reading the body as sent."""
    api_key = key if key is not None else server.world.workspaces[workspace].stripe_api_key
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        connection.request("GET", f"/stripe{path}{query}", headers=headers)
        response = connection.getresponse()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=42, as_of=AS_OF, scale=0.1)


@pytest.fixture(scope="session")
def _running(world: World) -> Iterator[SimulatorServer]:
    with SimulatorServer(world) as server:
        yield server


@pytest.fixture
def server(_running: SimulatorServer) -> SimulatorServer:
    _running.faults = Faults()
    _running.stats.reset()
    return _running


@pytest.fixture(scope="session")
def acme(world: World) -> GroundTruth:
    return world.ground_truth("acme", Faults())


@pytest.fixture(scope="session")
def big_world() -> World:
    return World(seed=42, as_of=AS_OF, scale=1.0)


@pytest.fixture(scope="session")
def big_truths(big_world: World) -> dict[str, GroundTruth]:
    return {
        workspace.id: big_world.ground_truth(workspace.id, Faults()) for workspace in big_world.workspaces
    }
