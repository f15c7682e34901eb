"""One typed contract from SQL to API: what dbt declares about the served marts (types, descriptions,
closed sets) is what the API serves, validates and documents, checked against dbt's own manifest; and
the OpenAPI document says only what the API does (no 422), describes every field, and its pages work
offline."""

from __future__ import annotations

import functools
import json
import operator
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.actions.policy import ACTION_TYPES, DECLINE_CATEGORIES
from revops.api.main import create_app
from revops.api.queries import MartEndpoint
from revops.api.routes import MART_ENDPOINTS
from revops.api.schemas import python_type
from revops.core.dbt_models import dbt_models
from revops.core.paths import DBT_PROJECT_DIR
from revops.core.settings import Settings
from tests.api.conftest import PROBE, ProbeApi, memory_keys
from tests.api.test_machinery import assert_error

MART_STATUSES = {"200", "400", "401", "403", "429", "503"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """dbt's own reading of the project, parsed now (so it is never a stale target/)."""
    target = tmp_path_factory.mktemp("dbt_target")
    subprocess.run(
        [str(Path(sys.executable).with_name("revops-dbt")), "parse", "--quiet", "--target-path", str(target)],
        check=True,
        cwd=DBT_PROJECT_DIR,
        timeout=600,
    )
    return json.loads((target / "manifest.json").read_text())


def manifest_model(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return manifest["nodes"][f"model.revops.{name}"]


def accepted_values(manifest: dict[str, Any], model: str) -> dict[str, list[str]]:
    """Column → the values its accepted_values test allows, from dbt's test nodes."""
    found = {}
    for node in manifest["nodes"].values():
        metadata = node.get("test_metadata") or {}
        if metadata.get("name") == "accepted_values" and node.get("attached_node") == f"model.revops.{model}":
            found[node["column_name"]] = [str(value) for value in metadata["kwargs"]["values"]]
    return found


def served_tables(endpoint: MartEndpoint) -> list[str]:
    return [table.partition(".")[2] for table in endpoint.tables]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings(), endpoints=MART_ENDPOINTS).openapi()


@pytest.fixture
def api(revops_home: Path) -> Iterator[TestClient]:
    """The real endpoints over an empty warehouse, with an all-scopes key: enough for anything the API
    answers before it queries (validation)."""
    secrets, lookup = memory_keys(("acme", None))
    app = create_app(Settings(), key_lookup=lookup)
    with TestClient(app, headers={"Authorization": f"Bearer {secrets['acme']}"}) as client:
        yield client


def plain(annotation: Any) -> Any:
    """A type without `Annotated` metadata, inside unions too (`X | None`)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return plain(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, (plain(arg) for arg in typing.get_args(annotation)))
    return annotation


def normalized(text: str) -> str:
    return " ".join(text.split())


def test_the_yaml_reader_agrees_with_dbts_manifest(manifest: dict[str, Any]) -> None:
    ours = dbt_models()
    models = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert set(ours) == set(models)
    for name, node in models.items():
        model = ours[name]
        assert normalized(model.description) == normalized(node["description"]), name
        assert model.contract_enforced == node["config"]["contract"]["enforced"], name
        assert list(model.columns) == list(node["columns"]), name
        values = accepted_values(manifest, name)
        for column_name, column in node["columns"].items():
            read = model.columns[column_name]
            assert normalized(read.description) == normalized(column["description"]), (name, column_name)
            assert read.data_type == column["data_type"], (name, column_name)
            assert list(read.accepted_values or []) == values.get(column_name, []), (name, column_name)


def test_every_served_mart_has_an_enforced_contract_the_rows_follow(manifest: dict[str, Any]) -> None:
    for endpoint in MART_ENDPOINTS:
        fields = endpoint.row.model_fields
        for table in served_tables(endpoint):
            node = manifest_model(manifest, table)
            assert node["config"]["contract"]["enforced"], f"{table}: contract not enforced"
            columns = node["columns"]
            assert all(column["data_type"] for column in columns.values()), table
            assert set(fields) <= set(columns), f"{table}: {set(fields) - set(columns)} not in its contract"
            for name, field in fields.items():
                served = plain(python_type(columns[name]["data_type"]))
                assert plain(field.annotation) == served, (table, name)
                if table == endpoint.table.partition(".")[2]:  # tables of one shape: the default's docs
                    assert normalized(field.description or "") == normalized(columns[name]["description"])


def test_closed_sets_are_enums_from_the_accepted_values(
    manifest: dict[str, Any], spec: dict[str, Any]
) -> None:
    """Every served column with an accepted_values test is an enum of exactly those values in the
    OpenAPI document, and so is every `=` filter on one; no other column is."""
    checked = 0
    for endpoint in MART_ENDPOINTS:
        values = accepted_values(manifest, served_tables(endpoint)[0])
        operation = spec["paths"][f"/v1{endpoint.path}"]["get"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        row = spec["components"]["schemas"][page["properties"]["data"]["items"]["$ref"].rsplit("/", 1)[1]]
        for name, schema in row["properties"].items():
            enum = next((s["enum"] for s in [schema, *schema.get("anyOf", [])] if "enum" in s), None)
            assert (enum and [str(v) for v in enum]) == values.get(name), (endpoint.path, name)
            checked += name in values
        parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
        for spec_filter in endpoint.filters:
            if spec_filter.op != "=" or spec_filter.column not in values:
                continue
            items = next(
                s["items"] for s in parameters[spec_filter.param]["anyOf"] if s.get("type") == "array"
            )
            assert [str(v) for v in items.get("enum", [])] == values[spec_filter.column] or (
                items["type"] == "integer"  # an int set is checked by a validator: see the next test
            ), (endpoint.path, spec_filter.param)
    assert checked >= 10


def test_a_value_outside_a_closed_set_is_a_400_listing_the_values(api: TestClient) -> None:
    closed = [
        (endpoint, param, values)
        for endpoint in MART_ENDPOINTS
        for param, values in endpoint.closed_sets.items()
    ]
    assert len(closed) >= 10, "the endpoints' closed-set filters (movement types, statuses, outcomes, …)"
    for endpoint, param, values in closed:
        wrong = "churn_voluntary" if isinstance(values[0], str) else 2
        response = api.get(f"/v1{endpoint.path}", params={param: wrong})
        error = assert_error(response, 400, "invalid_request_error", "parameter_invalid", param)
        # Word edges that hold for values ending in punctuation too (`90+`).
        assert all(
            re.search(rf"(?<!\w){re.escape(str(value))}(?!\w)", error["message"]) for value in values
        ), error


def test_the_documented_mrr_movement_value_is_refused_with_the_real_ones(api: TestClient) -> None:
    """The issue's example: the API used to document `churn_voluntary`; the data says `voluntary_churn`."""
    response = api.get("/v1/metrics/mrr-movements", params={"movement_type": "churn_voluntary"})
    message = assert_error(response, 400, "invalid_request_error", "parameter_invalid", "movement_type")[
        "message"
    ]
    assert "voluntary_churn" in message and "involuntary_churn" in message


def test_a_repeated_parameter_is_refused_unless_it_takes_several_values(api: TestClient) -> None:
    for query in ("limit=1&limit=2", "currency=USD&currency=EUR", "customer_id=a&customer_id=b"):
        response = api.get(f"/v1/metrics/mrr?{query}")
        param = query.split("=", 1)[0]
        assert (
            "2 times"
            in assert_error(response, 400, "invalid_request_error", "parameter_invalid", param)["message"]
        )


def schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from schemas_in(value)


def test_every_response_field_in_the_openapi_document_has_a_description(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    referenced: set[str] = set()
    pending = [
        response
        for operations in spec["paths"].values()
        for operation in operations.values()
        for response in operation["responses"].values()
    ]
    while pending:
        for node in schemas_in(pending.pop()):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and (name := ref.rsplit("/", 1)[1]) not in referenced:
                referenced.add(name)
                pending.append(components[name])
    assert {"ErrorResponse", "ErrorBody", "LedgerEntry", "UsageBillingPeriod", "Readiness"} <= referenced
    missing = [
        f"{name}.{field}"
        for name in sorted(referenced)
        for field, schema in components[name].get("properties", {}).items()
        if not schema.get("description")
    ]
    assert not missing, missing


def test_the_openapi_document_lists_only_the_errors_the_api_sends(
    spec: dict[str, Any], probe_api: ProbeApi
) -> None:
    assert '"422"' not in json.dumps(spec) and "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        statuses = set(operations["get"]["responses"])
        expected = (
            MART_STATUSES if path.startswith("/v1/") else {"200", "503"} if path == "/readyz" else {"200"}
        )
        assert statuses == expected, path
    # …and the API does send each of them, on any endpoint (here the probe's).
    with probe_api.client(api_rate_limit_per_minute=1) as client:
        url = f"/v1{PROBE.path}"
        sent = {
            client.get(url, params={"limit": 0}, headers=probe_api.auth("acme")).status_code,
            client.get(url).status_code,
            client.get(url, headers=probe_api.auth("acme_usage")).status_code,
            client.get(url, headers=probe_api.auth("globex")).status_code,
            client.get(url, headers=probe_api.auth("globex")).status_code,
        }
    with probe_api.client() as client:
        client.app.state.services.pool.wait_s = 0  # type: ignore[attr-defined]
        with client.app.state.services.pool.lease():  # type: ignore[attr-defined]
            client.app.state.services.pool.size = 1  # type: ignore[attr-defined]
            sent.add(client.get(url, headers=probe_api.auth("acme")).status_code)
    assert {str(status) for status in sent} == MART_STATUSES


def test_the_dunning_sets_the_api_lists_are_the_ones_the_executor_knows() -> None:
    queue = dbt_models()["dunning_queue"]
    assert queue.column("action").accepted_values == ACTION_TYPES
    assert queue.column("decline_category").accepted_values == DECLINE_CATEGORIES


def test_the_docs_pages_work_offline(api: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = api.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html.text)
        assert urls and not [url for url in urls if "//" in url], f"{page} loads from elsewhere: {urls}"
        for url in urls:
            assert api.get(url).status_code == 200, url
    bundle = api.get("/docs/assets/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', bundle), "Swagger UI 5 or later renders OpenAPI 3.1"
    assert 'validatorUrl": null' in api.get("/docs").text, "no badge from validator.swagger.io"
