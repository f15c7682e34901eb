"""Stripe's own fixture objects (from its OpenAPI fixtures), the shape every served object follows.

`fixtures.json` holds one fixture per object type served here. Objects are rendered onto the
fixture's top-level keys, in its order, so a field Stripe has and the simulation does not model is
still present (as null) rather than silently missing.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES_PATH = Path(__file__).with_name("fixtures.json")


@cache
def fixtures() -> dict[str, dict[str, Any]]:
    return json.loads(FIXTURES_PATH.read_text())


@cache
def keys(object_type: str) -> tuple[str, ...]:
    return tuple(fixtures()[object_type])


@cache
def _key_set(object_type: str) -> frozenset[str]:
    return frozenset(keys(object_type))


def fill(object_type: str, **values: Any) -> dict[str, Any]:
    """A `object_type` object with every fixture key, null unless given; unknown keys are a bug."""
    if not values.keys() <= _key_set(object_type):
        raise KeyError(f"{object_type} has no fields {sorted(values.keys() - _key_set(object_type))}")
    return {key: values.get(key) for key in keys(object_type)}
