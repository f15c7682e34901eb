"""Stripe's schema, read from the typed object models of the pinned `stripe` SDK.

Stripe's OpenAPI specification is too large to vendor; the SDK pinned in the lock files is generated
from it for the API version it pins (`stripe.api_version`), so its classes are that specification in
Python: each object model declares its fields with their types, nested objects as inner classes, and
each `*ListParams` / `*RetrieveParams` typed dict the parameters an operation takes. This module turns
them into JSON Schema definitions the contract test validates the simulator's responses with, and into
the parameter declarations it checks the Stripe source's requests against.

Conversion: `int` -> integer, `str` -> string, `bool` -> boolean, `float` -> number, `Decimal` -> a
decimal string (the SDK decodes `decimal_string` fields), `Literal[...]` -> enum (a `Literal | str`
union is an open enum: any string), `Optional[X]` -> X or null, `ExpandableField[X]` -> an id or the
expanded X, `List[X]` -> array, `Dict`/`UntypedStripeObject` -> a map, `ListObject[X]` -> Stripe's
list envelope, and each model class -> a closed object schema (a field the model does not declare is
an error) named by its qualified class name (`Invoice`, `Invoice.AutomaticTax`). The SDK does not say
which fields are always present (Stripe's specification leaves most of them optional), so no field is
required of one object; the test instead requires each declared field to be served somewhere in the
scenario or listed, with a reason, in the allow-list.
"""

from __future__ import annotations

import ast
import decimal
import importlib
import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin

from stripe._expandable_field import ExpandableField  # noqa: F401  (a Union alias, compared below)
from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject, UntypedStripeObject

_DECIMAL_STRING = r"^-?\d+(\.\d+)?$"


def model_class(object_name: str) -> type[StripeObject]:
    """The SDK class of an API object type (`"invoice"` -> `stripe.Invoice`)."""
    module, name = OBJECT_CLASSES[object_name]
    return getattr(importlib.import_module(module), name)


@cache
def _module_namespace(module_name: str) -> dict[str, Any]:
    """What a model module's annotations can name: its globals and the imports it makes only for type
    checkers (`if TYPE_CHECKING: from stripe._card import Card as CardResource`), which the forward
    references (`ExpandableField["CardResource"]`) are written against."""
    module = importlib.import_module(module_name)
    namespace = dict(vars(module))
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            imports = [stmt for stmt in node.body if isinstance(stmt, ast.ImportFrom | ast.Import)]
            exec(compile(ast.Module(imports, []), module_name, "exec"), namespace)
    return namespace


def _hints(cls: type) -> dict[str, Any]:
    """The declared fields of one model class, its own and its bases' (ClassVars left out)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, StripeObject, dict) or not issubclass(klass, StripeObject):
            continue
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_") or name.isupper():
                continue
            resolved = _evaluate(annotation, _module_namespace(klass.__module__), _scopes(klass))
            if get_origin(resolved) is typing.ClassVar:
                continue
            hints[name] = resolved
    return hints


def _scopes(cls: type) -> dict[str, Any]:
    """The names visible in a class body: its own inner classes, then its enclosing classes'."""
    scope: dict[str, Any] = {}
    module = importlib.import_module(cls.__module__)
    owner: Any = module
    chain = []
    for part in cls.__qualname__.split("."):
        owner = getattr(owner, part)
        chain.append(owner)
    for klass in chain:
        scope.update({k: v for k, v in vars(klass).items() if isinstance(v, type)})
    return scope


def _evaluate(annotation: Any, globalns: dict[str, Any], localns: dict[str, Any]) -> Any:
    if isinstance(annotation, str):
        annotation = ForwardRef(annotation)
    if isinstance(annotation, ForwardRef):
        return _evaluate(eval(annotation.__forward_arg__, globalns, localns), globalns, localns)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None or origin is Literal or not args:
        return annotation
    evaluated = tuple(_evaluate(arg, globalns, localns) for arg in args)
    if origin in (Union, types.UnionType):
        return Union[evaluated]  # noqa: UP007
    if origin is typing.ClassVar:
        return typing.ClassVar[evaluated[0]]
    return annotation.copy_with(evaluated) if hasattr(annotation, "copy_with") else origin[evaluated]


@dataclass
class StripeSchema:
    """JSON Schema definitions of every model reached from the objects asked for."""

    definitions: dict[str, Any] = field(default_factory=dict)
    classes: dict[str, type] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per definition, its declared fields' annotations (for the allow-list's bookkeeping)."""

    def reference(self, cls: type) -> dict[str, Any]:
        name = cls.__qualname__
        if name not in self.definitions:
            self.definitions[name] = {}  # reserved first: models refer to each other
            self.classes[name] = cls
            hints = _hints(cls)
            self.fields[name] = hints
            # `deleted` is the one field of the deleted stub the SDK folds into the model (a live
            # object never carries it); the stub has its own schema (`deleted_stub`).
            self.definitions[name] = {
                "type": "object",
                "properties": {key: self.schema(value) for key, value in hints.items() if key != "deleted"},
                "additionalProperties": False,
            }
        return {"$ref": f"#/definitions/{name}"}

    def schema(self, annotation: Any) -> dict[str, Any]:
        origin, args = get_origin(annotation), get_args(annotation)
        if annotation is type(None):
            return {"type": "null"}
        if annotation is Any:
            return {}
        if annotation is bool:
            return {"type": "boolean"}
        if annotation is int:
            return {"type": "integer"}
        if annotation is float:
            return {"type": "number"}
        if annotation is str:
            return {"type": "string"}
        if annotation is decimal.Decimal:
            return {"type": "string", "pattern": _DECIMAL_STRING}
        if origin is Literal:
            return {"enum": list(args)}
        if origin in (Union, types.UnionType):
            if str in args and all(get_origin(a) is Literal or a is str for a in args):
                return {"type": "string"}  # an open enum: the listed values and any other string
            options = [self.schema(arg) for arg in args]
            return {"anyOf": options}
        if origin in (list, typing.List):  # noqa: UP006
            return {"type": "array", "items": self.schema(args[0])}
        if origin in (dict, typing.Dict):  # noqa: UP006
            return {"type": "object", "additionalProperties": self.schema(args[1])}
        if origin is UntypedStripeObject:
            return {"type": "object", "additionalProperties": self.schema(args[0])}
        if origin is ListObject:
            return {
                "type": "object",
                "properties": {
                    "object": {"const": "list"},
                    "data": {"type": "array", "items": self.schema(args[0])},
                    "has_more": {"type": "boolean"},
                    "url": {"type": "string"},
                },
                "required": ["object", "data", "has_more", "url"],
                "additionalProperties": False,
            }
        if annotation is UntypedStripeObject:
            return {"type": "object"}
        if isinstance(annotation, type) and issubclass(annotation, StripeObject):
            return self.reference(annotation)
        raise TypeError(f"no JSON Schema for the SDK annotation {annotation!r}")


def deleted_stub(object_name: str) -> dict[str, Any]:
    """What retrieving a deleted object answers: its id, its type and `deleted: true`."""
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": object_name},
            "deleted": {"const": True},
        },
        "required": ["id", "object", "deleted"],
        "additionalProperties": False,
    }


def list_of(schema: StripeSchema, object_name: str) -> dict[str, Any]:
    return schema.schema(ListObject[model_class(object_name)])  # type: ignore[misc]


# --- request parameters ---

_PARAMS_MODULE = re.compile(r"^_([a-z_]+)_params$")


@cache
def params_class(name: str) -> type:
    """A `*Params` typed dict of the SDK by class name (`InvoiceListParams`)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    module = importlib.import_module(f"stripe.params._{snake}")
    return getattr(module, name)


def parameters(cls: type) -> dict[str, Any]:
    """A params typed dict's keys with their (resolved) types; the SDK's request options
    (`api_key`, `idempotency_key`, … which are headers, not parameters) left out."""
    from stripe._request_options import RequestOptions

    namespace = _module_namespace(cls.__module__)
    options = set(RequestOptions.__annotations__)
    return {
        key: _evaluate(_strip_not_required(annotation), namespace, {})
        for key, annotation in cls.__annotations__.items()
        if key not in options
    }


def _strip_not_required(annotation: Any) -> Any:
    if isinstance(annotation, str):
        match = re.fullmatch(r"NotRequired\[(.*)\]", annotation, re.S)
        return match.group(1).strip() if match else annotation
    if get_origin(annotation) in (typing.NotRequired, typing.Required):
        return get_args(annotation)[0]
    return annotation
