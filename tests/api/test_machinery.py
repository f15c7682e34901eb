"""What every endpoint shares: pagination, validation, auth, scopes, rate limits, request ids, logs,
metrics, health. Exercised through a test-only endpoint over a probe table."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.api.auth import KeyResolver
from revops.api.errors import ApiError
from revops.api.keys import ApiKey, Scope, create_key, list_keys, revoke_key
from revops.api.main import create_app
from revops.api.queries import PageRequest, base_type, cursor_scope, encode_cursor, page_query
from revops.api.routes import MART_ENDPOINTS
from revops.core.settings import Settings
from revops.core.warehouse import connect
from tests.api.conftest import PROBE, PROBE_ROWS, PROBE_TABLE, ProbeApi, memory_keys
from tests.support import isolated_warehouse, query

URL = "/v1/probe/rows"


def all_pages(client: TestClient, headers: dict[str, str], **params: Any) -> tuple[list[dict], int]:
    rows: list[dict] = []
    pages = 0
    cursor = None
    while True:
        response = client.get(
            URL, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "list" and len(body["data"]) <= params.get("limit", 100)
        rows += body["data"]
        pages += 1
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return rows, pages
        cursor = body["next_cursor"]


def expected_ids(probe_api: ProbeApi, workspace_id: str, where: str = "1", **params: Any) -> list[str]:
    with isolated_warehouse(probe_api.home):
        return [
            row["row_id"]
            for row in query(
                f"SELECT row_id FROM {PROBE_TABLE} WHERE workspace_id = {{ws:String}} AND {where} "
                "ORDER BY occurred_at, row_id",
                ws=workspace_id,
                **params,
            )
        ]


def assert_error(response: Any, status: int, type_: str, code: str, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "code", "message", "param"}
    assert (body["error"]["type"], body["error"]["code"], body["error"]["param"]) == (type_, code, param)
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("limit", [1, 7, 100, 500])
def test_pages_cover_every_row_once_in_order(probe_api: ProbeApi, limit: int) -> None:
    with probe_api.client(api_rate_limit_per_minute=10_000) as client:
        rows, pages = all_pages(client, probe_api.auth("acme"), limit=limit)
    ids = [row["row_id"] for row in rows]
    assert ids == expected_ids(probe_api, "acme")
    assert len(set(ids)) == len(ids) == PROBE_ROWS["acme"]
    assert pages == -(-PROBE_ROWS["acme"] // limit)  # the last page says has_more=false itself
    assert {row["workspace_id"] for row in rows} == {"acme"}


def test_filters_combine_and_page(probe_api: ProbeApi) -> None:
    params = {"currency": "EUR", "since": "2026-01-01T06:00:00Z", "until": "2026-01-02T09:30:00+00:00"}
    with probe_api.client() as client:
        rows, _ = all_pages(client, probe_api.auth("globex"), limit=5, **params)
        on_day = client.get(URL, params={"on": "2026-01-02"}, headers=probe_api.auth("globex")).json()["data"]
    assert [row["row_id"] for row in rows] == expected_ids(
        probe_api,
        "globex",
        "currency = 'EUR' AND occurred_at >= {s:DateTime64(3)} AND occurred_at < {u:DateTime64(3)}",
        s="2026-01-01 06:00:00",
        u="2026-01-02 09:30:00",
    )
    assert len(rows) > 5 and all(row["currency"] == "EUR" for row in rows)
    assert [row["row_id"] for row in on_day] == expected_ids(
        probe_api, "globex", "occurred_on = '2026-01-02'"
    )


def test_a_key_reads_only_its_workspace(probe_api: ProbeApi) -> None:
    with probe_api.client(api_rate_limit_per_minute=10_000) as client:
        acme, _ = all_pages(client, probe_api.auth("acme"), limit=500)
        globex, _ = all_pages(client, probe_api.auth("globex"), limit=500)
    assert len(acme) == PROBE_ROWS["acme"] and len(globex) == PROBE_ROWS["globex"]
    assert {row["workspace_id"] for row in globex} == {"globex"}


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"limit": 501}, "parameter_invalid", "limit"),
        ({"limit": 0}, "parameter_invalid", "limit"),
        ({"limit": "ten"}, "parameter_invalid", "limit"),
        ({"since": "yesterday"}, "parameter_invalid", "since"),
        ({"since": "0999-01-01T00:00:00Z"}, "parameter_invalid", "since"),  # beyond DateTime64; was a 500
        ({"on": "2026-02-30"}, "parameter_invalid", "on"),
        ({"cursor": "not-a-cursor"}, "parameter_invalid", "cursor"),
        ({"cursor": "eyJrIjpbIngiXSwiZiI6IiJ9"}, "parameter_invalid", "cursor"),  # {"k":["x"],"f":""}
        ({"workspace_id": "globex"}, "parameter_unknown", "workspace_id"),
        ({"account": "cash"}, "parameter_unknown", "account"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    probe_api: ProbeApi, params: dict[str, Any], code: str, param: str
) -> None:
    with probe_api.client() as client:
        response = client.get(URL, params=params, headers=probe_api.auth("acme"))
    assert_error(response, 400, "invalid_request_error", code, param)


def test_a_cursor_only_continues_the_request_it_came_from(probe_api: ProbeApi) -> None:
    with probe_api.client() as client:
        first = client.get(URL, params={"limit": 3, "currency": "USD"}, headers=probe_api.auth("acme")).json()
        response = client.get(
            URL,
            params={"limit": 3, "currency": "EUR", "cursor": first["next_cursor"]},
            headers=probe_api.auth("acme"),
        )
    assert (
        "different filters"
        in assert_error(response, 400, "invalid_request_error", "parameter_invalid", "cursor")["message"]
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "api_key_missing"),
        ({"Authorization": "Basic YWNtZTo="}, "api_key_missing"),
        ({"Authorization": "Bearer rk_live_" + "x" * 32}, "api_key_invalid"),
        ({"Authorization": "Bearer sk_live_123"}, "api_key_invalid"),
    ],
)
def test_missing_or_unknown_keys_are_401(probe_api: ProbeApi, headers: dict[str, str], code: str) -> None:
    with probe_api.client() as client:
        response = client.get(URL, headers=headers)
    assert_error(response, 401, "authentication_error", code)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_key_without_the_scope_is_403(probe_api: ProbeApi) -> None:
    with probe_api.client() as client:
        response = client.get(URL, headers=probe_api.auth("acme_usage"))
    assert "ledger:read" in assert_error(response, 403, "permission_error", "scope_missing")["message"]


def test_unknown_paths_and_methods_get_the_error_shape(probe_api: ProbeApi) -> None:
    with probe_api.client() as client:
        assert_error(
            client.get("/v1/nothing", headers=probe_api.auth("acme")),
            404,
            "invalid_request_error",
            "resource_missing",
        )
        assert_error(
            client.post(URL, headers=probe_api.auth("acme")),
            405,
            "invalid_request_error",
            "method_not_allowed",
        )


def test_rate_limit_answers_429_with_retry_after(probe_api: ProbeApi) -> None:
    with probe_api.client(api_rate_limit_per_minute=3) as client:
        responses = [client.get(URL, params={"limit": 1}, headers=probe_api.auth("acme")) for _ in range(4)]
        other_key = client.get(URL, params={"limit": 1}, headers=probe_api.auth("globex"))
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in responses)
    limited = responses[-1]
    assert_error(limited, 429, "rate_limit_error", "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    assert other_key.status_code == 200, "limits are per key"


def test_revoked_keys_are_refused(probe_api: ProbeApi) -> None:
    with isolated_warehouse(probe_api.home), connect() as client:
        created = create_key(client, "acme", [Scope.ledger], name="to revoke")
    headers = {"Authorization": f"Bearer {created.secret}"}
    with probe_api.client() as client:
        assert client.get(URL, headers=headers).status_code == 200
        with connect() as warehouse:
            revoked = revoke_key(warehouse, created.key.key_id)
            assert revoke_key(warehouse, created.key.key_id).revoked_at == revoked.revoked_at
            listed = {key.key_id: key for key in list_keys(warehouse, "acme")}
        response = client.get(URL, headers=headers)
    assert listed[created.key.key_id].is_revoked
    assert_error(response, 401, "authentication_error", "api_key_revoked")


def test_keys_are_stored_as_hashes_only(probe_api: ProbeApi) -> None:
    with isolated_warehouse(probe_api.home):
        stored = json.dumps(query("SELECT * FROM api.api_keys"), default=str)
    for secret in probe_api.keys.values():
        assert secret not in stored and secret[12:] not in stored
        assert secret[:12] in stored  # the display prefix


def test_request_ids_and_access_logs_without_secrets(
    probe_api: ProbeApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="revops.api.access"), probe_api.client() as client:
        given = client.get(
            URL, params={"currency": "USD"}, headers={**probe_api.auth("acme"), "X-Request-Id": "abc-123"}
        )
        generated = client.get(URL, headers={"Authorization": "Bearer rk_live_" + "y" * 32})
    assert given.headers["X-Request-Id"] == "abc-123"
    assert generated.headers["X-Request-Id"].startswith("req_")
    lines = [
        json.loads(record.getMessage()) for record in caplog.records if record.name == "revops.api.access"
    ]
    assert [line["status"] for line in lines] == [200, 401]
    first = lines[0]
    assert (first["request_id"], first["route"], first["params"], first["workspace_id"]) == (
        "abc-123",
        "/v1/probe/rows",
        ["currency"],
        "acme",
    )
    assert first["key"] == probe_api.keys["acme"][:12] and first["rows"] > 0
    logged = caplog.text
    assert probe_api.keys["acme"] not in logged and "y" * 32 not in logged


def test_health_readiness_and_metrics(probe_api: ProbeApi) -> None:
    with probe_api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready", "warehouse": "embedded"}
        client.get(URL, headers=probe_api.auth("acme"))
        metrics = client.get("/metrics").text
    assert 'revops_api_requests_total{method="GET",route="/v1/probe/rows",status="200"} 1.0' in metrics
    assert "revops_api_request_duration_seconds_bucket" in metrics
    assert 'revops_api_rows_returned_total{route="/v1/probe/rows"} 100.0' in metrics


def test_openapi_documents_filters_and_errors(probe_api: ProbeApi) -> None:
    with probe_api.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    operation = spec["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "limit",
        "cursor",
        "currency",
        "since",
        "until",
        "on",
    }
    assert {"200", "400", "401", "403", "429", "503"} <= set(operation["responses"])
    assert operation["x-revops-mart"]["table"] == PROBE_TABLE
    assert operation["x-revops-mart"]["filters"]["since"] == {"column": "occurred_at", "op": ">="}
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_every_declared_endpoint_queries_one_workspace_with_bound_values() -> None:
    """Whatever filters and cursor a request carries, the SQL starts its WHERE with the key's workspace
    and holds no value of the request (they are all bound parameters)."""
    samples = {str: "x'); DROP TABLE marts.t; --", int: 7, bool: True, date: date(2026, 1, 2)}
    samples[datetime] = datetime(2026, 1, 1, tzinfo=UTC)  # the start of a month: every window's bound
    for endpoint in (*MART_ENDPOINTS, PROBE):
        filters = {
            f.param: [samples[base_type(f.type)]]
            if f.param in endpoint.closed_sets
            else samples[base_type(f.type)]
            for f in endpoint.filters
        }
        last_row = {f"_sort_{i}": samples[key.type] for i, key in enumerate(endpoint.keys)}
        variants = endpoint.variants.options if endpoint.variants else [None]
        for variant in variants:
            request = PageRequest(filters, limit=10, variant=variant and variant.value)
            cursor = encode_cursor(endpoint, last_row, cursor_scope(endpoint, request))
            query = page_query(endpoint, "acme", dataclasses.replace(request, cursor=cursor))
            where = query.sql.split(" WHERE ", 1)[1]
            assert where.startswith("workspace_id = {workspace_id:String} AND "), endpoint.path
            assert query.parameters["workspace_id"] == "acme" and query.workspace_id == "acme"
            assert "DROP" not in query.sql and "acme" not in query.sql and "2026" not in query.sql
            table = endpoint.table if variant is None else variant.table
            assert f" FROM {table} WHERE " in query.sql and table.startswith("marts.")


def test_key_lookups_are_cached_and_so_are_unknown_keys() -> None:
    secrets, lookup = memory_keys(("acme", Scope.ledger))
    calls: list[str] = []

    def counting(secret: str) -> ApiKey | None:
        calls.append(secret)
        return lookup(secret)

    resolver = KeyResolver(counting, cache_s=60, test_mode=lambda workspace_id: False)
    secret = secrets["acme:ledger:read"]
    assert resolver.resolve(secret).key.workspace_id == "acme"
    assert resolver.resolve(secret).key.workspace_id == "acme"
    assert calls == [secret]
    unknown = "rk_live_" + "z" * 32
    for _ in range(3):
        with pytest.raises(ApiError) as refused:
            resolver.resolve(unknown)
        assert refused.value.status == 401
    assert calls.count(unknown) == 1, "an unknown key presented again costs no lookup"


def test_a_mart_not_built_yet_is_503_not_500(probe_api: ProbeApi) -> None:
    not_built = dataclasses.replace(PROBE, path="/probe/not-built", table="marts.api_probe_not_built")
    with isolated_warehouse(probe_api.home):
        app = create_app(Settings(api_key_cache_s=0), endpoints=[not_built])
        with TestClient(app) as client:
            response = client.get("/v1/probe/not-built", headers=probe_api.auth("acme"))
    assert_error(response, 503, "api_error", "mart_not_built")
