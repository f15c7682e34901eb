"""The two simulated SaaS businesses: what they sell, to whom, and what their processor charges them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

# History starts on a fixed day rather than a fixed distance before `as_of`: a world seen at a later
# date is then the same business further along, which is what makes `advance_to(d)` equal to a
# world built at `d`. Seen from the reference date 2026-11-01 the history spans twelve months.
FOUNDED = date(2025, 11, 1)

Interval = Literal["month", "year"]


@dataclass(frozen=True, eq=False)
class PlanSpec:
    key: str
    name: str
    description: str
    per_seat: bool
    monthly: MappingProxyType[str, int]
    """Unit amount (minor units) per currency."""
    annual: MappingProxyType[str, int]
    popularity: float
    repriced_monthly: MappingProxyType[str, int] | None = None
    """Monthly unit amounts after the tenant's price increase; existing subscribers keep the old price."""

    def unit_amount(self, interval: Interval, currency: str) -> int:
        return (self.monthly if interval == "month" else self.annual)[currency]


@dataclass(frozen=True)
class FeeSchedule:
    percent_bps: int
    fixed: int
    """Per successful charge, in the settlement currency's minor units."""
    conversion_bps: int
    """Extra on charges presented in a currency other than the settlement currency."""
    billing_bps: int
    """Stripe Billing's monthly fee on recurring volume."""
    dispute_fee_usd: int


@dataclass(frozen=True)
class Region:
    country: str
    locale: str
    cities: tuple[tuple[str, str | None, str], ...]
    """(city, state, postal code) triples."""
    email_tld: str
    phone_prefix: str


@dataclass(frozen=True, eq=False)
class Tenant:
    id: str
    name: str
    country: str
    settlement_currency: str
    currency_mix: MappingProxyType[str, float]
    regions: MappingProxyType[str, tuple[Region, ...]]
    """Where customers paying in each currency are based."""
    plans: tuple[PlanSpec, ...]
    annual_share: float
    repricing_after_days: int
    fees: FeeSchedule
    payout_business_days: int
    statement_descriptor: str


def _amounts(**amounts: int) -> MappingProxyType[str, int]:
    return MappingProxyType(amounts)


_US = Region(
    "US",
    "en-US",
    (
        ("San Francisco", "CA", "94107"),
        ("New York", "NY", "10013"),
        ("Austin", "TX", "78701"),
        ("Seattle", "WA", "98104"),
        ("Chicago", "IL", "60607"),
        ("Boston", "MA", "02110"),
        ("Denver", "CO", "80202"),
    ),
    "com",
    "+1",
)
_EURO = (
    Region(
        "DE",
        "de",
        (("Berlin", None, "10115"), ("Munich", None, "80331"), ("Hamburg", None, "20095")),
        "de",
        "+49",
    ),
    Region("FR", "fr", (("Paris", None, "75002"), ("Lyon", None, "69002")), "fr", "+33"),
    Region("NL", "nl", (("Amsterdam", None, "1012"), ("Utrecht", None, "3511")), "nl", "+31"),
    Region("IE", "en-IE", (("Dublin", None, "D02"),), "ie", "+353"),
    Region("ES", "es", (("Madrid", None, "28013"), ("Barcelona", None, "08002")), "es", "+34"),
)
_UK = Region(
    "GB",
    "en-GB",
    (
        ("London", None, "EC1V 9HX"),
        ("Manchester", None, "M1 1AE"),
        ("Edinburgh", None, "EH1 1YZ"),
        ("Bristol", None, "BS1 4DJ"),
        ("Leeds", None, "LS1 4AP"),
    ),
    "co.uk",
    "+44",
)

ACME = Tenant(
    id="acme",
    name="Acme Analytics",
    country="US",
    settlement_currency="usd",
    currency_mix=MappingProxyType({"usd": 0.72, "eur": 0.28}),
    regions=MappingProxyType({"usd": (_US,), "eur": _EURO}),
    plans=(
        PlanSpec(
            "starter",
            "Starter",
            "Dashboards for small teams.",
            False,
            _amounts(usd=2_900, eur=2_700),
            _amounts(usd=29_000, eur=27_000),
            0.45,
            repriced_monthly=_amounts(usd=3_500, eur=3_300),
        ),
        PlanSpec(
            "team",
            "Team",
            "Shared analytics workspaces, billed per seat.",
            True,
            _amounts(usd=1_500, eur=1_400),
            _amounts(usd=15_000, eur=14_000),
            0.40,
        ),
        PlanSpec(
            "business",
            "Business",
            "SSO, audit logs and a dedicated success manager.",
            False,
            _amounts(usd=49_900, eur=45_900),
            _amounts(usd=499_000, eur=459_000),
            0.15,
        ),
    ),
    annual_share=0.2,
    repricing_after_days=182,
    fees=FeeSchedule(percent_bps=290, fixed=30, conversion_bps=100, billing_bps=70, dispute_fee_usd=1_500),
    payout_business_days=1,
    statement_descriptor="ACME ANALYTICS",
)

GLOBEX = Tenant(
    id="globex",
    name="Globex Cloud",
    country="GB",
    settlement_currency="gbp",
    currency_mix=MappingProxyType({"gbp": 0.65, "usd": 0.35}),
    regions=MappingProxyType({"gbp": (_UK,), "usd": (_US,)}),
    plans=(
        PlanSpec(
            "developer",
            "Developer",
            "Managed clusters for side projects.",
            False,
            _amounts(gbp=1_900, usd=2_400),
            _amounts(gbp=19_000, usd=24_000),
            0.40,
            repriced_monthly=_amounts(gbp=2_300, usd=2_900),
        ),
        PlanSpec(
            "pro",
            "Pro",
            "Production clusters, billed per seat.",
            True,
            _amounts(gbp=1_200, usd=1_500),
            _amounts(gbp=12_000, usd=15_000),
            0.42,
        ),
        PlanSpec(
            "enterprise",
            "Enterprise",
            "Private networking, 99.99% SLA, 24/7 support.",
            False,
            _amounts(gbp=34_900, usd=44_900),
            _amounts(gbp=349_000, usd=449_000),
            0.18,
        ),
    ),
    annual_share=0.25,
    repricing_after_days=213,
    fees=FeeSchedule(percent_bps=150, fixed=20, conversion_bps=200, billing_bps=70, dispute_fee_usd=1_500),
    payout_business_days=2,
    statement_descriptor="GLOBEX CLOUD",
)

TENANTS: tuple[Tenant, ...] = (ACME, GLOBEX)
