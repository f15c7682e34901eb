"""Liveness, readiness (the warehouse answers) and Prometheus metrics; no API key needed."""

from typing import Literal

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from revops.api.deps import ServicesDep
from revops.api.errors import ERROR_RESPONSES

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = Field("ok", description="The process answers.")


class Readiness(BaseModel):
    status: Literal["ready"] = Field("ready", description="The warehouse answered a query.")
    warehouse: Literal["embedded", "server"] = Field(
        description="Which warehouse the API reads: the embedded engine (chDB) or a ClickHouse server."
    )


@router.get("/healthz", summary="The process is up")
def healthz() -> Health:
    return Health()


@router.get("/readyz", summary="The warehouse can be queried", responses={503: ERROR_RESPONSES[503]})
def readyz(services: ServicesDep) -> Readiness:
    with services.pool.lease() as client:
        client.command("SELECT 1")
    return Readiness(warehouse="embedded" if services.pool.target.is_embedded else "server")


@router.get("/metrics", include_in_schema=False)
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
