"""One local HTTP server for every simulated provider, routed by path prefix (`/stripe/...`).

The server owns what is generic to all providers: connection handling, fault injection (latency,
rate limits, 5xx, truncated bodies) and request statistics. Each provider owns its URLs, its
authentication and the shape of its bodies, errors included.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from revops_simulator.faults import FaultInjector, Faults
from revops_simulator.plaid.api import PlaidApi
from revops_simulator.provider import ApiRequest, ApiResponse, Caller, Provider
from revops_simulator.quickbooks.api import QuickBooksApi
from revops_simulator.stripe.api import StripeApi
from revops_simulator.usage.api import UsageApi
from revops_simulator.world import World
from revops_simulator.xero.api import XeroApi

UNAUTHENTICATED = "unauthenticated"
"""Workspace id under which requests without a valid key are counted."""


class ServerStats:
    """Request counts per (workspace, route) and objects served per (workspace, resource); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._objects: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        self._truncated = 0

    def record_truncation(self) -> None:
        with self._lock:
            self._truncated += 1

    @property
    def truncated(self) -> int:
        """Responses whose body was cut short by the fault plan."""
        with self._lock:
            return self._truncated

    def record(self, workspace_id: str, route: str, status: int, served: tuple[str, int] | None) -> None:
        with self._lock:
            self._requests[workspace_id, route] += 1
            self._statuses[workspace_id, status] += 1
            if served is not None:
                self._objects[workspace_id, served[0]] += served[1]

    @property
    def requests(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._requests)

    @property
    def objects_served(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._objects)

    @property
    def statuses(self) -> Counter[tuple[str, int]]:
        """Responses per (workspace, HTTP status)."""
        with self._lock:
            return Counter(self._statuses)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._objects.clear()
            self._statuses.clear()
            self._truncated = 0


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as API clients expect; every response therefore carries a Content-Length.
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, response_headers, payload = self.server.simulator.dispatch(
            self.command, self.path, headers, body
        )
        self.send_response(status)
        for name, value in response_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a sync makes thousands of requests; the statistics count them instead."""


class SimulatorServer:
    def __init__(
        self, world: World, faults: Faults | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.world = world
        self.stats = ServerStats()
        self.providers: list[Provider] = [StripeApi(world), PlaidApi(world)]
        self.quickbooks = QuickBooksApi(world)
        self.xero = XeroApi(world)
        self.providers += [self.quickbooks, self.xero, UsageApi(world)]
        self._address = (host, port)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.faults = faults or Faults()

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        # A fresh injector: new random draws and full token buckets for the new plan.
        self._injector = FaultInjector(faults)
        self.world.faults = faults

    # --- lifecycle ---

    def start(self) -> SimulatorServer:
        if self._http is not None:
            raise RuntimeError("the simulator server is already running")
        self._http = _HttpServer(self._address, self)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="simulator-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join()
        self._http = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the simulator server is not running")
        return self._http.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def stripe_base_url(self) -> str:
        return self.base_url + "/stripe"

    @property
    def plaid_base_url(self) -> str:
        return self.base_url + "/plaid"

    @property
    def quickbooks_base_url(self) -> str:
        return self.base_url + "/quickbooks"

    @property
    def xero_base_url(self) -> str:
        return self.base_url + "/xero"

    @property
    def usage_base_url(self) -> str:
        return self.base_url + "/usage"

    # --- requests ---

    def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: (status, headers, body)."""
        url = urlsplit(target)
        provider = next((p for p in self.providers if url.path.startswith(p.prefix + "/")), None)
        if provider is None:
            return self._encode(
                ApiResponse(404, {"error": {"message": f"No simulated provider at {url.path}"}})
            )
        request = ApiRequest(
            method,
            url.path[len(provider.prefix) :],
            parse_qsl(url.query, keep_blank_values=True),
            headers,
            body,
        )
        injector = self._injector
        injector.delay()
        route = provider.route(request)
        caller = provider.authenticate(request)
        if isinstance(caller, ApiResponse):
            self.stats.record(UNAUTHENTICATED, route, caller.status, None)
            return self._encode(caller)
        response = self._respond(provider, request, caller, injector)
        status, response_headers, payload = self._encode(response)
        if status == 200 and (cut := injector.truncation(len(payload))) is not None:
            payload = payload[:cut]
            response_headers["Content-Length"] = str(len(payload))
            self.stats.record_truncation()
        self.stats.record(caller.workspace_id, route, status, response.served if status == 200 else None)
        return status, response_headers, payload

    @staticmethod
    def _respond(
        provider: Provider, request: ApiRequest, caller: Caller, injector: FaultInjector
    ) -> ApiResponse:
        retry_after = injector.throttle(caller.api_key)
        if retry_after is not None:
            return provider.rate_limited(retry_after)
        error_status = injector.server_error()
        if error_status is not None:
            return provider.server_error(error_status)
        try:
            return provider.handle(request, caller, injector.faults)
        except Exception:
            # A simulator bug, not an injected fault: say so loudly, answer like a broken server.
            traceback.print_exc(file=sys.stderr)
            return provider.server_error(500)

    @staticmethod
    def _encode(response: ApiResponse) -> tuple[int, dict[str, str], bytes]:
        # A provider may encode its own body (QuickBooks and Xero send money as exact JSON decimals).
        if isinstance(response.payload, bytes):
            payload = response.payload
        else:
            payload = json.dumps(response.payload, separators=(",", ":")).encode()
        headers = {
            **response.headers,
            "Content-Type": "application/json",
            "Content-Length": str(len(payload)),
        }
        return response.status, headers, payload
