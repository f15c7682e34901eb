"""The contract between the HTTP server and each simulated provider API it routes to by path prefix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from revops_simulator.faults import Faults


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    """Below the provider's prefix: `/v1/customers` for `/stripe/v1/customers`."""
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    """Lower-cased names."""
    body: bytes = b""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    payload: Any
    """JSON-serialisable body."""
    headers: Mapping[str, str] = field(default_factory=dict)
    served: tuple[str, int] | None = None
    """(resource, number of its objects in the body), for the server's statistics."""


@dataclass(frozen=True)
class Caller:
    workspace_id: str
    api_key: str
    """What the provider's rate limits are counted against."""


class Provider(Protocol):
    prefix: str
    """Path prefix the server routes on, e.g. `/stripe`."""

    def route(self, request: ApiRequest) -> str:
        """The request's endpoint with ids abstracted (`GET /v1/charges/{id}`), for statistics."""
        ...

    def authenticate(self, request: ApiRequest) -> Caller | ApiResponse:
        """Who is calling, or the provider's authentication error."""
        ...

    def handle(self, request: ApiRequest, caller: Caller, faults: Faults) -> ApiResponse: ...

    def rate_limited(self, retry_after: float) -> ApiResponse:
        """The provider's 429, telling when to come back."""
        ...

    def server_error(self, status: int) -> ApiResponse:
        """The provider's 5xx body."""
        ...
