"""The simulated Stripe API against Stripe's own schema: the typed models of the pinned `stripe` SDK.

The Stripe source runs against the simulator through a scenario that makes it use every endpoint and
query shape it has: a full listing of every endpoint and child list, an incremental day (events, then
changed objects retrieved by id), a day beyond the Events API's 30 days (a full re-listing), and one
more incremental day. Every exchange is recorded. Then, as for the other providers
(test_provider_contracts.py), with the schema taken from the SDK (tests/contract/stripe_models.py):

- every response, and every event's `data.object`, validates strictly against the model of what the
  path serves: a field the model does not declare, a field of the wrong type, or a declared field
  missing is an error (except the fields the allow-list names as served only on request);
- every declared field the simulator never serves is listed, with a reason, in
  tests/reference/omitted_fields.yaml, and nothing listed there is served;
- every request parameter the source sends is one the operation's `*Params` typed dict declares, with
  a value of its type;
- a renamed or mistyped field fails the validation.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from datetime import date
from functools import cache
from typing import Any, Union, get_args, get_origin

import pytest
import stripe
from typing_extensions import is_typeddict  # the SDK's typed dicts are typing_extensions'

from revops.pipelines.stripe.settings import ENDPOINTS
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.stripe import render
from revops_simulator.stripe.render import API_VERSION
from tests.contract.contracts import Contract, Exchange, allow_list, by_provider, recording
from tests.contract.stripe_models import (
    StripeSchema,
    deleted_stub,
    list_of,
    model_class,
    parameters,
    params_class,
)
from tests.support import isolated_warehouse, load_simulated

SEED, SCALE = 42, 0.1
# A full listing; three days later (events, changed objects by id); 46 days later (beyond the Events
# API's 30 days: a full re-listing, with a one-off draft of Globex's listed); two days later (events
# again); a week later (the draft deleted: `invoice.deleted` and the deleted stub its retrieve answers).
DAYS = (date(2026, 3, 2), date(2026, 3, 5), date(2026, 4, 20), date(2026, 4, 22), date(2026, 4, 29))
_PATH = re.compile(r"^/v1/(?P<resource>[a-z_]+)(?:/(?P<id>[A-Za-z0-9_]+)(?:/(?P<child>[a-z_]+))?)?$")
# What a child list under a parent serves, where its name alone does not say.
CHILD_OBJECTS = {
    ("invoices", "lines"): "line_item",
    ("credit_notes", "lines"): "credit_note_line_item",
    ("customers", "balance_transactions"): "customer_balance_transaction",
}


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> list[Exchange]:
    world = World(seed=SEED, as_of=DAYS[0], scale=SCALE)
    with (
        pytest.MonkeyPatch.context() as patch,
        isolated_warehouse(tmp_path_factory.mktemp("stripe-contract")),
        SimulatorServer(world, Faults()) as server,
        recording(server) as recorded,
    ):
        # Embedded lists of two instead of Stripe's ten, so that a small world's invoices and
        # subscriptions overflow them and the source pages their child lists too.
        patch.setattr(render, "EMBEDDED_LIST_LIMIT", 2)
        for day in DAYS:
            world.advance_to(day)
            load_simulated(world, server, ["stripe"])
    return by_provider(recorded, "stripe")


# --- which schema an exchange answers with ---


def _parts(exchange: Exchange) -> re.Match[str]:
    match = _PATH.match(exchange.path)
    assert match is not None, f"not a Stripe API path: {exchange.path}"
    return match


def _object_name(resource: str, child: str | None) -> str:
    if child is None:
        return resource.removesuffix("s")
    return CHILD_OBJECTS.get((resource, child), child.removesuffix("s"))


@cache
def stripe_schema() -> StripeSchema:
    """The models of every object the Stripe API paths the source reads can serve, and the errors."""
    schema = StripeSchema()
    schema.reference(stripe.ErrorObject)
    return schema


def _response_schema(exchange: Exchange) -> str:
    """The definition the exchange's body must conform to (added on first use)."""
    schema = stripe_schema()
    parts = _parts(exchange)
    if exchange.status != 200:
        name = "error response"
        schema.definitions.setdefault(
            name,
            {
                "type": "object",
                "properties": {"error": schema.reference(stripe.ErrorObject)},
                "required": ["error"],
                "additionalProperties": False,
            },
        )
        return name
    object_name = _object_name(parts["resource"], parts["child"])
    cls = model_class(object_name)
    if parts["id"] is not None and parts["child"] is None:
        return _retrieved(schema, object_name, cls)
    name = f"list of {cls.__qualname__}"
    schema.definitions.setdefault(name, list_of(schema, object_name))
    return name


def _retrieved(schema: StripeSchema, object_name: str, cls: type) -> str:
    """A retrieved object; for a kind of object Stripe deletes, or its deleted stub."""
    model = schema.reference(cls)
    if "deleted" not in schema.fields[cls.__qualname__]:
        return cls.__qualname__
    name = f"{cls.__qualname__} or its deleted stub"
    schema.definitions.setdefault(name, {"anyOf": [deleted_stub(object_name), model]})
    return name


@pytest.fixture(scope="module")
def contract(exchanges: list[Exchange]) -> Contract:
    """The closed schemas of everything the exchanges serve, with the fields the allow-list names as
    served beyond the models declared, with their evidence."""
    for exchange in exchanges:
        _response_schema(exchange)  # reach every model first: the definitions are then complete
    _event_objects(exchanges)
    return Contract.load(
        "stripe", stripe_schema().definitions, allow_list()["stripe"].get("undocumented", [])
    )


def _validated(exchange: Exchange) -> tuple[str, Any]:
    return _response_schema(exchange), exchange.json()


def _event_objects(exchanges: list[Exchange]) -> list[tuple[str, dict[str, Any]]]:
    """Each event's `data.object` with the name of its model (the SDK types it only as a dict)."""
    found = []
    for exchange in exchanges:
        if exchange.status == 200 and _parts(exchange)["resource"] == "events":
            body = exchange.json()
            for event in body["data"] if body["object"] == "list" else [body]:
                obj = event["data"]["object"]
                cls = model_class(obj["object"])
                stripe_schema().reference(cls)
                found.append((cls.__qualname__, obj))
    return found


# --- the tests ---


def test_the_sdk_pins_the_simulators_api_version() -> None:
    assert stripe.api_version == API_VERSION


def test_every_response_conforms_to_the_sdk_models(exchanges: list[Exchange], contract: Contract) -> None:
    assert exchanges
    problems = []
    for exchange in exchanges:
        name, body = _validated(exchange)
        problems += [f"{exchange.method} {exchange.path}: {error}" for error in contract.errors(body, name)]
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_every_event_object_conforms_to_its_model(exchanges: list[Exchange], contract: Contract) -> None:
    objects = _event_objects(exchanges)
    assert len({name for name, _ in objects}) >= 5
    problems = [f"event object {error}" for name, obj in objects for error in contract.errors(obj, name)]
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_the_scenario_uses_every_endpoint_and_query_shape(exchanges: list[Exchange]) -> None:
    listed = {_parts(e)["resource"] for e in exchanges if _parts(e)["id"] is None}
    assert listed >= {endpoint.path.removeprefix("/v1/") for endpoint in ENDPOINTS}
    retrieved = {_parts(e)["resource"] for e in exchanges if _parts(e)["id"] and not _parts(e)["child"]}
    assert len(retrieved) >= 3, retrieved
    children = {(_parts(e)["resource"], _parts(e)["child"]) for e in exchanges if _parts(e)["child"]}
    assert ("invoices", "lines") in children
    queries = {name.split("[")[0] for e in exchanges for name, _ in e.query}
    assert {"limit", "starting_after", "created", "expand", "status"} <= queries
    assert all(e.method == "GET" for e in exchanges)


def test_documented_fields_never_served_are_listed_with_a_reason(
    exchanges: list[Exchange], contract: Contract
) -> None:
    served: dict[str, set[str]] = {}
    for exchange in exchanges:
        name, body = _validated(exchange)
        contract.walk(body, {"$ref": f"#/definitions/{name}"}, name, served)
    for name, obj in _event_objects(exchanges):
        contract.walk(obj, {"$ref": f"#/definitions/{name}"}, name, served)
    served = {name: fields for name, fields in served.items() if name in stripe_schema().classes}
    listed: dict[str, set[str]] = defaultdict(set)
    for entry in allow_list()["stripe"]["omitted"]:
        assert entry.get("reason", "").strip(), entry
        for name in entry["schemas"]:
            everything_else = contract.documented(name) - {"deleted"} - set(entry.get("every_field_but", []))
            listed[name] |= set(entry["fields"]) if "fields" in entry else everything_else
    problems = []
    for name, fields in sorted(served.items()):
        omitted = contract.documented(name) - fields - {"deleted"}
        if omitted != listed.get(name, set()):
            problems.append(
                f"{name}: omitted but not listed {sorted(omitted - listed[name])}; "
                f"listed but served or undocumented {sorted(listed[name] - omitted)}"
            )
    problems += [f"{name}: listed but never served" for name in sorted(set(listed) - set(served))]
    assert problems == [], "\n".join(problems)


def _params_class_name(exchange: Exchange) -> str:
    parts = _parts(exchange)
    parent = model_class(_object_name(parts["resource"], None)).__name__
    if parts["child"] is not None:
        return f"{parent}List{''.join(word.title() for word in parts['child'].split('_'))}Params"
    if parts["id"] is not None:
        return f"{parent}RetrieveParams"
    return f"{parent}ListParams"


def _parameter_errors(name: str, value: str, declared: dict[str, Any]) -> list[str]:
    """One query parameter as the SDK encodes it (`created[gte]=…`, `expand[0]=…`) against the
    operation's declared parameters."""
    match = re.fullmatch(r"(?P<root>[a-z_]+)(?:\[(?P<key>[a-z_0-9]*)\])?", name)
    if match is None or match["root"] not in declared:
        return [f"undeclared parameter {name}"]
    options = get_args(declared[match["root"]]) if get_origin(declared[match["root"]]) is Union else ()
    kinds = options or (declared[match["root"]],)
    key = match["key"]
    if key is None:
        scalar = [kind for kind in kinds if kind in (int, str, bool) or get_origin(kind) is not list]
        if int in kinds and str not in kinds and not re.fullmatch(r"-?\d+", value):
            return [f"{name}={value!r} is not an integer"]
        return [] if scalar else [f"{name} is a list and needs an index"]
    if key.isdigit() or key == "":
        return (
            [] if any(get_origin(kind) is list for kind in kinds) else [f"{name}: {match['root']} is no list"]
        )
    shapes = [kind for kind in kinds if is_typeddict(kind)]
    if not any(key in shape.__annotations__ for shape in shapes):
        return [f"{name}: {match['root']} has no key {key!r}"]
    return (
        []
        if re.fullmatch(r"-?\d+", value) or key not in ("gt", "gte", "lt", "lte")
        else [f"{name}={value!r}"]
    )


def test_the_source_sends_only_the_parameters_the_sdk_declares(exchanges: list[Exchange]) -> None:
    problems = []
    for exchange in exchanges:
        class_name = _params_class_name(exchange)
        declared = parameters(params_class(class_name))
        problems += [
            f"{exchange.path} ({class_name}): {error}"
            for name, value in exchange.query
            for error in _parameter_errors(name, value, declared)
        ]
    assert problems == [], "\n".join(sorted(set(problems))[:40])


def test_a_renamed_or_mistyped_field_fails_the_contract(
    exchanges: list[Exchange], contract: Contract
) -> None:
    exchange = next(e for e in exchanges if e.path == "/v1/invoices" and e.status == 200)
    name, body = _validated(exchange)
    assert contract.errors(body, name) == []
    renamed = copy.deepcopy(body)
    invoice = renamed["data"][0]
    invoice["amount_due_renamed"] = invoice.pop("amount_due")
    errors = contract.errors(renamed, name)
    assert any("amount_due_renamed" in error for error in errors)
    retyped = copy.deepcopy(body)
    retyped["data"][0]["amount_due"] = "12.50"
    assert any("is not of type 'integer'" in error for error in contract.errors(retyped, name))
    nested = copy.deepcopy(body)
    nested["data"][0]["automatic_tax"]["enabled"] = "yes"
    assert any("automatic_tax" in error for error in contract.errors(nested, name))


def test_a_mistyped_request_parameter_fails_the_check() -> None:
    declared = parameters(params_class("InvoiceListParams"))
    assert _parameter_errors("created[gte]", "1700000000", declared) == []
    assert _parameter_errors("expand[0]", "data.lines", declared) == []
    assert _parameter_errors("created[since]", "1700000000", declared)
    assert _parameter_errors("limit", "many", declared)
    assert _parameter_errors("updated", "1", declared)
