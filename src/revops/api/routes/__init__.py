"""Routes: health and metrics, and one list endpoint per declared mart endpoint (one module per domain)."""

from revops.api.queries import IntervalEndpoint, MartEndpoint
from revops.api.routes import connections, ledger, metrics, recovery, usage

MART_ENDPOINTS: tuple[MartEndpoint, ...] = (
    *ledger.ENDPOINTS,
    *metrics.ENDPOINTS,
    *recovery.ENDPOINTS,
    *usage.ENDPOINTS,
    *connections.ENDPOINTS,
)

INTERVAL_ENDPOINTS: tuple[IntervalEndpoint, ...] = metrics.INTERVAL_ENDPOINTS
