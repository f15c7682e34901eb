"""The simulated Plaid, Xero and QuickBooks Online APIs against the providers' own specifications.

The Plaid, QuickBooks and Xero sources run against the simulator through a scenario that makes them
use every endpoint and query shape they have (full listings, pages, incremental requests, QBO's CDC
with a deletion and its refusal beyond 30 days, a re-listing that re-reads vanished ids, Plaid sync
with additions, modifications and removals), and every exchange is recorded. Then:

- every response is validated against the provider's schema (Plaid's and Xero's OpenAPI, Intuit's
  XSD as vendored in tests/reference), strictly: a field the schema does not document, a field of
  the wrong type, or a required field missing is an error; Plaid's responses also go through
  plaid-python's own models;
- every documented field the simulator never serves is listed, with a reason, in
  tests/reference/omitted_fields.yaml (and nothing listed there is served);
- every request the sources send is checked against the operation's declared parameters;
- a renamed or mistyped field fails the validation (shown on a recorded response of each provider).
"""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Any

import jsonschema
import plaid
import pytest
from plaid.model.accounts_get_response import AccountsGetResponse
from plaid.model.item_get_response import ItemGetResponse
from plaid.model.transactions_sync_response import TransactionsSyncResponse
from plaid.model_utils import validate_and_convert_types

from revops_simulator import Faults, SimulatorServer, World
from tests.contract.contracts import (
    FORMATS,
    REFERENCE,
    Contract,
    Exchange,
    allow_list,
    by_provider,
    recording,
)
from tests.support import isolated_warehouse, load_simulated

SOURCES = ("plaid", "quickbooks", "xero")
SEED, SCALE = 42, 0.1
# Load days: a full listing; three days later (QBO CDC with a deletion stub); more than 30 days later,
# three times (CDC refused, re-listing; the second finds an invoice deleted on 7 March gone and
# re-reads it by id); four days later (CDC). Plaid and Xero go incremental in between.
DAYS = (
    date(2026, 1, 16),
    date(2026, 1, 19),
    date(2026, 3, 1),
    date(2026, 4, 20),
    date(2026, 10, 28),
    date(2026, 11, 1),
)
PLAID_MODELS = {
    "/item/get": ItemGetResponse,
    "/accounts/get": AccountsGetResponse,
    "/transactions/sync": TransactionsSyncResponse,
}


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> list[Exchange]:
    """Every request the three sources send through the scenario, with the simulator's answer."""
    world = World(seed=SEED, as_of=DAYS[0], scale=SCALE)
    with (
        isolated_warehouse(tmp_path_factory.mktemp("contract")),
        SimulatorServer(world, Faults()) as server,
        recording(server) as recorded,
    ):
        for day in DAYS:
            world.advance_to(day)
            load_simulated(world, server, SOURCES)
    return recorded


@cache
def _reference(provider: str) -> dict[str, Any]:
    name = {
        "plaid": "plaid/openapi.json",
        "xero": "xero/openapi.json",
        "quickbooks": "quickbooks/entities.json",
    }
    return json.loads((REFERENCE / name[provider]).read_text())


@cache
def contract(provider: str) -> Contract:
    definitions = dict(_reference(provider)["definitions"])
    if provider == "quickbooks":
        # QBO's JSON keys the entities of a query or CDC response by entity name: the XSD's
        # `IntuitObject` substitution group, of which these are the ones revops reads.
        query = copy.deepcopy(definitions["QueryResponse"])
        for entity in _reference("quickbooks")["intuit_objects"]:
            if entity in definitions:
                query["properties"][entity] = {"type": "array", "items": {"$ref": f"#/definitions/{entity}"}}
        definitions["QueryResponse"] = query
    return Contract.load(provider, definitions, allow_list()[provider].get("undocumented", []))


def _response_schema(exchange: Exchange) -> str | None:
    """The schema name the exchange's body must conform to; None for what no specification covers
    (the OAuth2 token endpoints, whose bodies RFC 6749 defines)."""
    if "token" in exchange.path.lower():
        return None
    if exchange.provider == "plaid":
        operation = _reference("plaid")["operations"][exchange.path]
        return operation["response"] if exchange.status == 200 else operation["error"]
    if exchange.provider == "xero":
        return _reference("xero")["operations"][exchange.path]["response"] if exchange.status == 200 else None
    return "IntuitResponse"


def _validated(exchange: Exchange) -> tuple[str, Any] | None:
    name = _response_schema(exchange)
    if name is None:
        return None
    return name, exchange.json()


# --- the tests ---


@pytest.mark.parametrize("provider", SOURCES)
def test_every_response_conforms_to_the_providers_schema(exchanges: list[Exchange], provider: str) -> None:
    mine = by_provider(exchanges, provider)
    assert mine
    problems = []
    for exchange in mine:
        validated = _validated(exchange)
        if validated is not None:
            name, body = validated
            problems += [
                f"{exchange.method} {exchange.path}: {error}"
                for error in contract(provider).errors(body, name)
            ]
    assert problems == [], "\n".join(problems[:40])


def test_plaid_responses_load_into_plaid_pythons_models(exchanges: list[Exchange]) -> None:
    configuration = plaid.Configuration()
    checked = 0
    for exchange in by_provider(exchanges, "plaid"):
        if exchange.status != 200:
            continue
        model = PLAID_MODELS[exchange.path]
        # Type-checked and converted as plaid-python would (a wrong type raises ApiTypeError).
        validate_and_convert_types(exchange.json(), (model,), ["received_data"], True, True, configuration)
        checked += 1
    assert checked >= 10


def test_the_scenario_uses_every_endpoint_and_query_shape(exchanges: list[Exchange]) -> None:
    """What the contract covers: each operation the sources call, in each shape they call it."""
    plaid_paths = {e.path for e in by_provider(exchanges, "plaid")}
    assert plaid_paths == set(_reference("plaid")["operations"]) | {"/accounts/get"}
    plaid_ok = [e for e in by_provider(exchanges, "plaid") if e.status == 200]
    syncs = [e.json() for e in plaid_ok if e.path == "/transactions/sync"]
    assert all(any(page[kind] for page in syncs) for kind in ("added", "modified", "removed"))
    xero = by_provider(exchanges, "xero")
    assert {e.path for e in xero if e.status == 200} >= set(_reference("xero")["operations"])
    # Incremental: If-Modified-Since moves on from the epoch the first listing starts at.
    assert {e.headers.get("if-modified-since", "")[:4] for e in xero if e.path != "/connect/token"} > {"1970"}
    qbo = [e for e in by_provider(exchanges, "quickbooks") if "/v3/company/" in e.path]
    queries = [dict(e.query)["query"] for e in qbo if e.path.endswith("/query")]
    assert any(" WHERE Id IN (" in q for q in queries) and any(q.endswith("MAXRESULTS 100") for q in queries)
    cdc = [e for e in qbo if e.path.endswith("/cdc")]
    assert {e.status for e in cdc} == {200, 400}
    stubs = [
        entity
        for e in cdc
        if e.status == 200
        for response in e.json()["CDCResponse"][0]["QueryResponse"]
        for entities in response.values()
        if isinstance(entities, list)
        for entity in entities
        if entity.get("status") == "Deleted"
    ]
    assert stubs
    served = {name for e in qbo if e.status == 200 for name in _entity_names(e.json())}
    assert served >= {"Invoice", "Payment", "CreditMemo", "RefundReceipt", "Deposit", "JournalEntry"}


def _entity_names(body: dict[str, Any]) -> Iterator[str]:
    responses = [body.get("QueryResponse", {})]
    responses += [r for result in body.get("CDCResponse", []) for r in result.get("QueryResponse", [])]
    for response in responses:
        yield from (name for name, value in response.items() if isinstance(value, list) and value)


def test_documented_fields_never_served_are_listed_with_a_reason(exchanges: list[Exchange]) -> None:
    """For each schema the simulator serves, the fields it leaves out are exactly those the allow-list
    names (a stale entry — a field now served, or one the schema does not document — is an error)."""
    problems = []
    for provider in SOURCES:
        served: dict[str, set[str]] = {}
        for exchange in by_provider(exchanges, provider):
            validated = _validated(exchange)
            if validated is not None:
                name, body = validated
                contract(provider).walk(body, {"$ref": f"#/definitions/{name}"}, name, served)
        listed: dict[str, set[str]] = defaultdict(set)
        for entry in allow_list()[provider]["omitted"]:
            assert entry.get("reason", "").strip(), entry
            for schema in entry["schemas"]:
                listed[schema] |= set(entry["fields"])
        for schema, fields in served.items():
            omitted = contract(provider).documented(schema) - fields
            if omitted != listed.get(schema, set()):
                problems.append(
                    f"{provider} {schema}: omitted but not listed {sorted(omitted - listed[schema])}; "
                    f"listed but served or undocumented {sorted(listed[schema] - omitted)}"
                )
        problems += [f"{provider} {schema}: listed but never served" for schema in set(listed) - set(served)]
    assert problems == [], "\n".join(problems)


def _parameter_errors(value: str, schema: dict[str, Any]) -> list[str]:
    """A query or header value against its parameter schema (query strings carry text)."""
    kind = schema.get("type")
    if kind == "integer":
        return [] if re.fullmatch(r"-?\d+", value) else [f"{value!r} is not an integer"]
    if kind == "boolean":
        return [] if value in ("true", "false") else [f"{value!r} is not a boolean"]
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    return [error.message for error in validator.iter_errors(value)]


def test_the_sources_send_only_the_parameters_the_specifications_declare(exchanges: list[Exchange]) -> None:
    problems = []
    plaid_spec = _reference("plaid")
    for exchange in by_provider(exchanges, "plaid"):
        operation = plaid_spec["operations"][exchange.path]
        body = json.loads(exchange.body)
        problems += contract("plaid").errors(body, operation["request"])
        missing = [h for h in plaid_spec["security_headers"] if h.lower() not in exchange.headers]
        problems += [f"plaid {exchange.path}: no {header} header" for header in missing]
    for exchange in by_provider(exchanges, "xero"):
        if "token" in exchange.path:
            continue
        declared = {
            p["name"].lower(): p for p in _reference("xero")["operations"][exchange.path]["parameters"]
        }
        for name, value in exchange.query:
            parameter = declared.get(name.lower())
            if parameter is None or parameter["in"] != "query":
                problems.append(f"xero {exchange.path}: undeclared query parameter {name}")
            else:
                problems += [
                    f"xero {exchange.path} {name}: {e}" for e in _parameter_errors(value, parameter["schema"])
                ]
        for name, parameter in declared.items():
            if parameter["in"] != "header":
                continue
            if name not in exchange.headers:
                problems += [f"xero {exchange.path}: no {name} header"] if parameter["required"] else []
            else:
                problems += [
                    f"xero {exchange.path} {name}: {e}"
                    for e in _parameter_errors(exchange.headers[name], parameter["schema"])
                ]
    requests = json.loads((REFERENCE / "quickbooks" / "requests.json").read_text())["operations"]
    entities = set(_reference("quickbooks")["intuit_objects"])
    for exchange in by_provider(exchanges, "quickbooks"):
        if "token" in exchange.path:
            continue
        operation = requests[exchange.path.rsplit("/", 1)[-1]]
        params = dict(exchange.query)
        for name, value in params.items():
            if name not in operation["parameters"]:
                problems.append(f"qbo {exchange.path}: undeclared parameter {name}")
            else:
                problems += [
                    f"qbo {name}: {e}"
                    for e in _parameter_errors(value, operation["parameters"][name]["schema"])
                ]
        problems += [
            f"qbo {exchange.path}: no {name}"
            for name, spec in operation["parameters"].items()
            if spec["required"] and name not in params
        ]
        if "query" in params:
            match = re.fullmatch(operation["grammar"], params["query"])
            if (
                match is None
                or match["entity"] not in entities
                or int(match["max"] or 0) > operation["max_results"]
            ):
                problems.append(f"qbo query outside the documented grammar: {params['query']}")
        if "entities" in params:
            problems += [
                f"qbo cdc: unknown entity {e}" for e in params["entities"].split(",") if e not in entities
            ]
    assert problems == [], "\n".join(problems[:40])


def _first(exchanges: list[Exchange], provider: str, path_end: str) -> Any:
    mine = by_provider(exchanges, provider)
    return next(e.json() for e in mine if e.path.endswith(path_end) and e.status == 200)


@pytest.mark.parametrize(
    ("provider", "path_end", "locate", "field", "mistyped"),
    [
        ("plaid", "/transactions/sync", lambda body: body["added"][0], "amount", "12.50"),
        ("xero", "/Invoices", lambda body: body["Invoices"][0], "Total", "12.50"),
        ("quickbooks", "/query", lambda body: next(iter(_lists(body["QueryResponse"])))[0], "SyncToken", 0),
    ],
)
def test_a_renamed_or_mistyped_field_fails_the_contract(
    exchanges: list[Exchange], provider: str, path_end: str, locate: Any, field: str, mistyped: Any
) -> None:
    body = _first(exchanges, provider, path_end)
    name = {"plaid": "TransactionsSyncResponse", "xero": "Invoices", "quickbooks": "IntuitResponse"}[provider]
    assert contract(provider).errors(body, name) == []
    renamed = copy.deepcopy(body)
    obj = locate(renamed)
    obj[field + "_renamed"] = obj.pop(field)
    assert any("_renamed" in error for error in contract(provider).errors(renamed, name))
    retyped = copy.deepcopy(body)
    locate(retyped)[field] = mistyped
    assert any("is not of type" in error for error in contract(provider).errors(retyped, name))


def _lists(response: dict[str, Any]) -> Iterator[list[Any]]:
    return (value for value in response.values() if isinstance(value, list) and value)


def test_the_vendored_facts_say_where_they_come_from() -> None:
    for provider in SOURCES:
        assert _reference(provider)["origin"]
    readme = (REFERENCE / "README.md").read_text()
    assert all(
        name in readme for name in ("plaid/openapi.json", "xero/openapi.json", "quickbooks/entities.json")
    )
    assert "MIT" in readme and "Apache-2.0" in readme
    assert "Apache License" in (REFERENCE / "quickbooks" / "LICENSE.txt").read_text()
