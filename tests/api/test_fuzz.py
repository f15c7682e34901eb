"""Property-based fuzzing of the whole OpenAPI spec (schemathesis): valid and invalid parameters of
every operation, with a valid key, never produce a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from revops.api.main import create_app
from revops.core.settings import Settings
from tests.api.conftest import memory_keys
from tests.conftest import SimulatedWarehouse

SECRETS, LOOKUP = memory_keys(("acme", None))
AUTHORIZATION = {"Authorization": f"Bearer {SECRETS['acme']}"}


@pytest.fixture(scope="module")
def fuzzed_app(simulated_warehouse: SimulatedWarehouse) -> Iterator[TestClient]:
    with simulated_warehouse.open():
        app = create_app(Settings(api_rate_limit_per_minute=1_000_000), key_lookup=LOOKUP)
        with TestClient(app) as client:  # runs the lifespan, so the pool closes afterwards
            yield client


def operations(client: TestClient) -> list[schemathesis.schemas.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    return [result.ok() for result in schema.get_all_operations()]


# schemathesis' pytest integration (`from_fixture`) does not run under pytest 9, so the cases of each
# operation are drawn through its Hypothesis strategies directly.
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_request_makes_the_api_fail(fuzzed_app: TestClient, mode: schemathesis.GenerationMode) -> None:
    fuzzed = operations(fuzzed_app)
    assert {operation.path for operation in fuzzed} >= {"/healthz", "/readyz", "/v1/ledger/entries"}
    for operation in fuzzed:
        if mode is schemathesis.GenerationMode.NEGATIVE and not operation.definition.raw.get("parameters"):
            continue  # nothing to send wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def never_fails(case: schemathesis.Case) -> None:
            response = case.call(headers=AUTHORIZATION)
            assert response.status_code < 500, (case.as_curl_command(), response.text)
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"type", "code", "message", "param"}

        never_fails()
