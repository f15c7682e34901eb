"""Seeded randomness and identifiers that depend only on a stable key, never on generation order.

Every random stream and every id is derived from the world seed plus a key naming the thing it
belongs to (a customer, a charge, a day). Generating the history up to a later date therefore
reproduces the earlier history exactly: nothing shifts when more entities are generated.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def stable_hash(*parts: object, bits: int = 64) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=(bits + 7) // 8).digest()
    return int.from_bytes(digest, "big")


def stream(*parts: object) -> random.Random:
    """An independent random stream for the thing named by `parts`."""
    return random.Random(stable_hash(*parts))


def base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


def make_id(prefix: str, *parts: object, length: int = 24) -> str:
    """A Stripe-shaped id (`cus_` + base62), deterministic in `parts`."""
    return prefix + base62(stable_hash(*parts, bits=6 * length + 8), length)


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the daily means here are small, so the loop is short.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def weighted(rng: random.Random, weights: Mapping[T, float]) -> T:
    keys: Sequence[T] = list(weights)
    return rng.choices(keys, weights=[weights[key] for key in keys])[0]
