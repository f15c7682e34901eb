"""What the provider contract tests share: recorded exchanges, closed JSON schemas, the allow-list."""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import yaml

from revops_simulator import SimulatorServer

REFERENCE = Path(__file__).parents[1] / "reference"


@dataclass(frozen=True)
class Exchange:
    provider: str
    method: str
    path: str
    """Below the provider's prefix."""
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    status: int
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


@contextmanager
def recording(server: SimulatorServer) -> Iterator[list[Exchange]]:
    """Every request sent to `server` inside the block, with the simulator's answer."""
    recorded: list[Exchange] = []
    dispatch = server.dispatch

    def record(method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        status, response_headers, payload = dispatch(method, target, headers, body)
        url = urlsplit(target)
        provider, _, path = url.path.lstrip("/").partition("/")
        path = ("/" + path).removeprefix("/api.xro/2.0")[1:] if provider == "xero" else path
        query = tuple(parse_qsl(url.query, keep_blank_values=True))
        recorded.append(Exchange(provider, method, "/" + path, query, headers, body, status, payload))
        return status, response_headers, payload

    server.dispatch = record  # type: ignore[method-assign]
    try:
        yield recorded
    finally:
        server.dispatch = dispatch  # type: ignore[method-assign]


def by_provider(exchanges: list[Exchange], provider: str) -> list[Exchange]:
    return [exchange for exchange in exchanges if exchange.provider == provider]


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    """RFC 3339 (what OpenAPI's and XSD's date-time mean): a date, a time and an offset."""
    return not isinstance(value, str) or (_DATE_TIME.match(value) is not None and _parses(value))


def _parses(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@FORMATS.checks("date")
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


@FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    try:
        return not isinstance(value, str) or bool(uuid.UUID(value))
    except ValueError:
        return False


def _flatten(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with every `allOf` merged into one object schema and every object schema closed
    (`additionalProperties: false`): a field the specification does not document is an error."""
    if isinstance(schema, list):
        return [_flatten(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            resolved = definitions[part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part
            resolved = _flatten(resolved, definitions)
            merged.setdefault("properties", {}).update(resolved.get("properties", {}))
            merged["required"] = sorted({*merged.get("required", []), *resolved.get("required", [])})
            for key, value in resolved.items():
                if key not in ("properties", "required", "additionalProperties"):
                    merged.setdefault(key, value)
        schema = merged
    out = {key: _flatten(value, definitions) for key, value in schema.items()}
    if "properties" in out:
        out["properties"] = {
            name: _flatten(value, definitions) for name, value in schema["properties"].items()
        }
        out["additionalProperties"] = False
    return out


@dataclass
class Contract:
    """One provider's schemas, closed, with a validator and a walk that records the fields served."""

    provider: str
    definitions: dict[str, Any]
    undocumented: dict[str, set[str]]
    """Per schema, fields the provider serves that its schema leaves out (allowed, with evidence)."""

    @classmethod
    def load(cls, provider: str, definitions: dict[str, Any], undocumented: list[dict[str, Any]]) -> Contract:
        closed = {name: _flatten(schema, definitions) for name, schema in definitions.items()}
        extra: dict[str, set[str]] = defaultdict(set)
        for entry in undocumented:
            for schema in entry["schemas"]:
                for field in entry["fields"]:
                    closed[schema]["properties"][field] = entry["schema"]
                    extra[schema].add(field)
        return cls(provider, closed, dict(extra))

    def errors(self, instance: Any, name: str) -> list[str]:
        schema = {"$ref": f"#/definitions/{name}", "definitions": self.definitions}
        validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
        return [
            f"{name}{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
            for error in sorted(
                validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))
            )
        ]

    def walk(self, instance: Any, schema: Any, owner: str, served: dict[str, set[str]]) -> None:
        """Record, per schema (named, or `Parent.field` for an inline one), the fields served."""
        if instance is None or not isinstance(schema, dict):
            return
        if "$ref" in schema:
            owner = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.definitions[owner]
        for key in ("anyOf", "oneOf"):
            for option in schema.get(key, []):
                if self.fits(instance, option):
                    self.walk(instance, option, owner, served)
                    return
        if isinstance(instance, dict) and "properties" in schema:
            served.setdefault(owner, set()).update(set(instance) & set(schema["properties"]))
            for field, value in instance.items():
                child = schema["properties"].get(field)
                if child is not None:
                    self.walk(value, child, owner if "$ref" in _items(child) else f"{owner}.{field}", served)
        elif isinstance(instance, list) and "items" in schema:
            for item in instance:
                self.walk(item, schema["items"], owner, served)

    def fits(self, instance: Any, schema: Any) -> bool:
        return jsonschema.Draft7Validator({**schema, "definitions": self.definitions}).is_valid(instance)

    def documented(self, owner: str) -> set[str]:
        if owner in self.definitions:
            return set(self.definitions[owner].get("properties", {})) - self.undocumented.get(owner, set())
        parent, _, field = owner.rpartition(".")
        return set(_items(self.definitions_of(parent)["properties"][field]).get("properties", {}))

    def definitions_of(self, owner: str) -> dict[str, Any]:
        if owner in self.definitions:
            return self.definitions[owner]
        parent, _, field = owner.rpartition(".")
        return _items(self.definitions_of(parent)["properties"][field])


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    return schema.get("items", schema) if schema.get("type") == "array" else schema


@cache
def allow_list() -> dict[str, Any]:
    return yaml.safe_load((REFERENCE / "omitted_fields.yaml").read_text())
