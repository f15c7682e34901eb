"""Plausible company identities and cards for simulated customers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from revops_simulator.business.entities import PaymentMethod
from revops_simulator.business.seeding import base62, stable_hash, weighted
from revops_simulator.business.tenants import Region

_FIRST = (
    "Blue",
    "North",
    "Bright",
    "Silver",
    "Quantum",
    "Harbor",
    "Summit",
    "Cedar",
    "Atlas",
    "Pioneer",
    "Lumen",
    "Vertex",
    "Nimbus",
    "Orbit",
    "Granite",
    "Maple",
    "Beacon",
    "Falcon",
    "Copper",
    "Evergreen",
    "Juniper",
    "Kestrel",
    "Meridian",
    "Obsidian",
    "Polar",
    "Redwood",
    "Saffron",
    "Tidal",
    "Umber",
    "Willow",
)
_SECOND = (
    "Labs",
    "Systems",
    "Analytics",
    "Works",
    "Health",
    "Logistics",
    "Robotics",
    "Media",
    "Foods",
    "Energy",
    "Studio",
    "Capital",
    "Networks",
    "Bio",
    "Retail",
    "Software",
    "Mobility",
    "Dynamics",
    "Ventures",
    "Data",
)
_LEGAL_FORM = {"US": "Inc.", "GB": "Ltd", "IE": "Ltd", "DE": "GmbH", "FR": "SAS", "NL": "B.V.", "ES": "S.L."}
_STREETS = (
    "Market Street",
    "High Street",
    "Main Street",
    "Harbour Road",
    "Station Road",
    "Park Avenue",
    "King Street",
    "Church Lane",
    "Mill Road",
    "Queen's Road",
    "Broadway",
    "Elm Street",
)
_MAILBOXES = {"billing": 5.0, "finance": 3.0, "accounts": 2.0, "ops": 1.0}
_BRANDS = {"visa": 55.0, "mastercard": 30.0, "amex": 15.0}


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    phone: str
    line1: str
    city: str
    state: str | None
    postal_code: str


def company(rng: random.Random, region: Region) -> Identity:
    first, second = rng.choice(_FIRST), rng.choice(_SECOND)
    city, state, postal_code = rng.choice(region.cities)
    domain = f"{first}{second}".lower()
    return Identity(
        name=f"{first} {second} {_LEGAL_FORM[region.country]}",
        email=f"{weighted(rng, _MAILBOXES)}@{domain}.{region.email_tld}",
        phone=f"{region.phone_prefix} {rng.randrange(200, 999)} {rng.randrange(1000, 9999)}",
        line1=f"{rng.randrange(1, 400)} {rng.choice(_STREETS)}",
        city=city,
        state=state,
        postal_code=postal_code,
    )


def card(rng: random.Random, card_id: str, created: int, country: str, year: int) -> PaymentMethod:
    return PaymentMethod(
        id=card_id,
        created=created,
        brand=weighted(rng, _BRANDS),
        last4=f"{rng.randrange(10_000):04d}",
        exp_month=rng.randint(1, 12),
        exp_year=year + rng.randint(1, 5),
        funding="credit" if rng.random() < 0.7 else "debit",
        country=country,
        fingerprint=base62(stable_hash("fingerprint", card_id, bits=96), 16),
    )
