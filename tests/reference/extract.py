"""Extract, once, the facts the provider contract test needs from the providers' own specifications.

    python tests/reference/extract.py /work/shared/reference

reads Plaid's and Xero's OpenAPI specifications and Intuit's QuickBooks Online v3 XSD (see
`/work/shared/reference/README.md` for where each comes from) and writes, beside this script:

- `plaid/openapi.json`: the operations the Plaid source calls (their request and response schema
  names) and every component schema they reach, as JSON Schema (OpenAPI's `nullable` made a type
  union, descriptions and examples dropped, `$ref`s pointing into `definitions`);
- `xero/openapi.json`: the same for the Xero endpoints the source lists, with each operation's
  parameters (header and query: name, where, schema);
- `quickbooks/entities.json`: the XSD's complex types the simulator serves, as JSON Schema the way
  QuickBooks' JSON renders them (elements and attributes as properties, repeated elements as arrays,
  `simpleContent` types such as `ReferenceType` as `{value, name, type}`), each type flattened with
  its base types' fields and an `x-declared-by` map naming the type that declares each field; the
  response envelopes (`IntuitResponse`, `QueryResponse`, `CDCResponse`); and the names of the
  entities a query or CDC response can hold (the `IntuitObject` substitution group), which QBO's
  JSON keys by entity name (`"QueryResponse": {"Invoice": [...]}`).

Only these fragments are kept in the repository; the tests never read /work/shared. Re-run the
script when a specification is updated and review the diff. Licences and origins: README.md here.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent

PLAID_OPERATIONS = ("/item/get", "/accounts/get", "/transactions/sync")
XERO_ENDPOINTS = (
    "Accounts", "Contacts", "Invoices", "Payments", "BankTransactions", "ManualJournals", "CreditNotes",
    "Overpayments", "Prepayments",
)  # fmt: skip
QBO_ROOTS = (
    "Account", "Customer", "Item", "Invoice", "Payment", "Deposit", "JournalEntry", "CreditMemo",
    "RefundReceipt", "Fault", "IntuitResponse", "QueryResponse", "CDCResponse",
)  # fmt: skip
DROPPED = {"description", "example", "examples", "externalDocs", "x-example-csharp", "x-example-java",
           "x-example-php", "x-example-ruby", "x-snake", "x-objectArrayKey", "x-is-money",
           "x-is-msdate", "x-is-msdate-time", "discriminator", "title", "deprecated"}  # fmt: skip


# --- OpenAPI (Plaid, Xero) ---


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` as a type union, refs into `definitions`."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items() if key not in DROPPED}
    if "$ref" in out:
        return {"$ref": "#/definitions/" + out["$ref"].rsplit("/", 1)[-1]}
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "type" not in out and "enum" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _closure(schemas: dict[str, Any], roots: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = _json_schema(schemas[name])
        pending += [ref for ref in _refs(schemas[name]) if ref not in found]
    return dict(sorted(found.items()))


def _schema_name(response: dict[str, Any]) -> str:
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def extract_plaid(spec_path: Path) -> dict[str, Any]:
    spec = yaml.load(spec_path.read_text(), Loader=yaml.CSafeLoader)
    operations = {}
    for path in PLAID_OPERATIONS:
        post = spec["paths"][path]["post"]
        operations[path] = {
            "request": post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[
                -1
            ],
            "response": _schema_name(post["responses"]["200"]),
            "error": _schema_name(post["responses"]["default"]) if "default" in post["responses"] else None,
        }
    roots = [name for op in operations.values() for name in op.values() if name]
    schemes = spec["components"]["securitySchemes"]
    return {
        "origin": f"plaid/plaid-openapi 2020-09-14.yml, version {spec['info']['version']}",
        # The credentials and version every request carries, as headers (or, for credentials, in the body).
        "security_headers": sorted(schemes[name]["name"] for entry in spec["security"] for name in entry),
        "operations": operations,
        "definitions": _closure(spec["components"]["schemas"], roots),
    }


def _parameter(spec: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in parameter:
        parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
    return {
        "name": parameter["name"],
        "in": parameter["in"],
        "required": bool(parameter.get("required", False)),
        "schema": _json_schema(parameter.get("schema", {})),
    }


def extract_xero(spec_path: Path) -> dict[str, Any]:
    spec = yaml.load(spec_path.read_text(), Loader=yaml.CSafeLoader)
    operations = {}
    for endpoint in XERO_ENDPOINTS:
        item = spec["paths"][f"/{endpoint}"]
        get = item["get"]
        parameters = [*item.get("parameters", []), *get.get("parameters", [])]
        operations[f"/{endpoint}"] = {
            "response": _schema_name(get["responses"]["200"]),
            "parameters": [_parameter(spec, p) for p in parameters],
        }
    roots = [op["response"] for op in operations.values()]
    return {
        "origin": f"XeroAPI/Xero-OpenAPI xero_accounting.yaml, version {spec['info']['version']}",
        "operations": operations,
        "definitions": _closure(spec["components"]["schemas"], roots),
    }


# --- QuickBooks Online XSD ---

XS = "{http://www.w3.org/2001/XMLSchema}"
_BUILTIN_KINDS: dict[str, tuple[str, ...]] = {
    "string": ("string", "token", "normalizedString", "anyURI", "base64Binary", "time"),
    "number": ("decimal", "double", "float"),
    "integer": ("int", "integer", "long", "short", "positiveInteger", "nonNegativeInteger"),
    "boolean": ("boolean",),
}
BUILTIN: dict[str, dict[str, Any]] = {
    **{name: {"type": kind} for kind, names in _BUILTIN_KINDS.items() for name in names},
    "date": {"type": "string", "format": "date"},
    "dateTime": {"type": "string", "format": "date-time"},
}


class Xsd:
    def __init__(self, directory: Path) -> None:
        self.complex: dict[str, ET.Element] = {}
        self.simple: dict[str, ET.Element] = {}
        self.elements: dict[str, ET.Element] = {}
        self.groups: dict[str, ET.Element] = {}
        self.substitutes: list[str] = []
        for path in sorted(directory.glob("*.xsd")):
            for node in ET.parse(path).getroot():
                name = node.get("name")
                tag = node.tag.removeprefix(XS)
                if tag == "complexType":
                    self.complex[name] = node
                elif tag == "simpleType":
                    self.simple[name] = node
                elif tag == "element":
                    self.elements[name] = node
                    if node.get("substitutionGroup") == "IntuitObject":
                        self.substitutes.append(name)
                elif tag == "group":
                    self.groups[name] = node
        self.definitions: dict[str, Any] = {}

    def simple_schema(self, type_name: str) -> dict[str, Any]:
        local = type_name.split(":")[-1]
        if type_name.startswith("xs:") or (local in BUILTIN and local not in self.simple):
            return dict(BUILTIN.get(local, {"type": "string"}))
        restriction = self.simple[local].find(f"{XS}restriction")
        if restriction is None:  # a list or union: text
            return {"type": "string"}
        base = self.simple_schema(restriction.get("base", "xs:string"))
        enum = [e.get("value") for e in restriction.findall(f"{XS}enumeration")]
        return {**base, "enum": enum} if enum else base

    def type_schema(self, type_name: str) -> dict[str, Any]:
        local = type_name.split(":")[-1]
        if type_name.startswith("xs:") or local not in self.complex:
            return self.simple_schema(type_name)
        self.define(local)
        return {"$ref": f"#/definitions/{local}"}

    def define(self, name: str, node: ET.Element | None = None) -> None:
        if name in self.definitions:
            return
        self.definitions[name] = {}  # placeholder against recursion
        properties, declared = self.fields(name, node if node is not None else self.complex[name])
        self.definitions[name] = {
            "type": "object",
            "properties": dict(sorted(properties.items())),
            "x-declared-by": dict(sorted(declared.items())),
        }

    def fields(self, name: str, node: ET.Element) -> tuple[dict[str, Any], dict[str, str]]:
        """(properties, field → declaring type) of a complex type, base types' fields included."""
        properties: dict[str, Any] = {}
        declared: dict[str, str] = {}

        def own(field: str, schema: dict[str, Any]) -> None:
            properties[field] = schema
            declared[field] = name

        simple = node.find(f"{XS}simpleContent")
        if simple is not None:
            extension = simple.find(f"{XS}extension")
            assert extension is not None
            own("value", self.simple_schema(extension.get("base", "xs:string")))
            self.attributes(extension, own)
            return properties, declared
        content = node.find(f"{XS}complexContent")
        body = node
        if content is not None:
            derivation = content.find(f"{XS}extension")
            if derivation is None:
                derivation = content.find(f"{XS}restriction")
            assert derivation is not None
            base = derivation.get("base", "").split(":")[-1]
            if base in self.complex:
                self.define(base)
                base_def = self.definitions[base]
                properties.update(base_def["properties"])
                declared.update(base_def["x-declared-by"])
            body = derivation
        self.particles(body, name, own)
        self.attributes(body, own)
        return properties, declared

    def particles(self, node: ET.Element, owner: str, own: Any) -> None:
        for child in node:
            tag = child.tag.removeprefix(XS)
            if tag in ("sequence", "choice", "all"):
                self.particles(child, owner, own)
            elif tag == "group":
                self.particles(self.groups[child.get("ref", "").split(":")[-1]], owner, own)
            elif tag == "element":
                self.element(child, owner, own)

    def element(self, node: ET.Element, owner: str, own: Any) -> None:
        ref = node.get("ref")
        if ref is not None:
            name = ref.split(":")[-1]
            if name == "IntuitObject":
                return  # QBO's JSON keys query results by entity name: see `intuit_objects`
            target = self.elements[name]
            schema = self.type_schema(target.get("type", "xs:string"))
        else:
            name = node.get("name", "")
            inline = node.find(f"{XS}complexType")
            if inline is not None:
                anonymous = f"{owner}.{name}"
                self.define(anonymous, inline)
                schema = {"$ref": f"#/definitions/{anonymous}"}
            else:
                schema = self.type_schema(node.get("type", "xs:string"))
        if node.get("maxOccurs", "1") not in ("0", "1"):
            schema = {"type": "array", "items": schema}
        own(name, schema)

    def attributes(self, node: ET.Element, own: Any) -> None:
        for attribute in node.findall(f"{XS}attribute"):
            own(attribute.get("name", ""), self.simple_schema(attribute.get("type", "xs:string")))


def extract_quickbooks(directory: Path) -> dict[str, Any]:
    xsd = Xsd(directory)
    for root in QBO_ROOTS:
        xsd.define(root)
    return {
        "origin": "intuit/QuickBooks-V3-Java-SDK ipp-v3-java-data/src/main/xsd @79b5a3c",
        "intuit_objects": sorted(xsd.substitutes),
        "definitions": dict(sorted(xsd.definitions.items())),
    }


# The Stripe objects the simulator serves, or is to serve: their example objects' top-level keys, in
# Stripe's order (the simulator renders each object onto them; tests/simulator/test_world.py compares).
STRIPE_OBJECTS = (
    "balance_transaction",
    "charge",
    "coupon",
    "credit_note",
    "credit_note_line_item",
    "customer",
    "customer_balance_transaction",
    "discount",
    "dispute",
    "event",
    "invoice",
    "invoice_payment",
    "line_item",
    "payment_intent",
    "payment_method",
    "payout",
    "plan",
    "price",
    "product",
    "promotion_code",
    "refund",
    "subscription",
    "subscription_item",
    "tax_rate",
)


def extract_stripe(fixtures_path: Path) -> dict[str, Any]:
    resources = json.loads(fixtures_path.read_text())["resources"]
    return {
        "origin": "stripe/openapi openapi/fixtures3.json",
        "fixture_keys": {name: list(resources[name]) for name in STRIPE_OBJECTS},
    }


def _write(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1, sort_keys=False) + "\n")
    count = len(content.get("definitions", content.get("fixture_keys", {})))
    print(f"{path.relative_to(HERE)}: {path.stat().st_size // 1024} KiB, {count} schemas")


def main(reference: Path) -> None:
    _write(HERE / "plaid" / "openapi.json", extract_plaid(reference / "plaid-openapi-2020-09-14.yml"))
    _write(HERE / "xero" / "openapi.json", extract_xero(reference / "xero-accounting-openapi.yaml"))
    _write(HERE / "quickbooks" / "entities.json", extract_quickbooks(reference / "quickbooks-v3-xsd"))
    _write(HERE / "stripe" / "fixture_keys.json", extract_stripe(reference / "stripe-fixtures3.json"))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/reference"))
