"""Minor units to major units for display, with the currency exponents dbt uses (one source: the vars in
dbt_project.yml)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import yaml

from revops.core.paths import DBT_PROJECT_DIR


@cache
def _exponents() -> dict[str, int]:
    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    return {
        **dict.fromkeys(variables["stripe_zero_decimal_currencies"], 0),
        **dict.fromkeys(variables["stripe_three_decimal_currencies"], 3),
    }


def currency_exponent(currency: str) -> int:
    """Decimals of Stripe's minor unit for `currency` (as the `currency_exponent` dbt macro)."""
    return _exponents().get(currency.upper(), 2)


def to_major(amount: int | None, currency: str) -> Decimal | None:
    """An integer minor-unit amount in major units, exactly."""
    return None if amount is None else Decimal(amount).scaleb(-currency_exponent(currency))
