"""Card decline outcomes as Stripe reports them on failed charges.

`failure_code` is what Stripe puts on the charge (mostly the umbrella `card_declined`); `reason` is
the issuer's decline code (`outcome.reason`, `last_payment_error.decline_code`). Soft declines are
worth retrying; hard ones are not retried automatically and only recover when the customer
replaces the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Decline:
    reason: str
    failure_code: str
    message: str
    hard: bool
    advice_code: str | None
    network_decline_code: str | None
    outcome_type: str = "issuer_declined"
    network_status: str = "declined_by_network"
    risk_level: str = "normal"

    @property
    def outcome_reason(self) -> str:
        return "highest_risk_level" if self.outcome_type == "blocked" else self.reason

    @property
    def seller_message(self) -> str:
        if self.outcome_type == "blocked":
            return "Stripe blocked this payment as too risky."
        if self.reason == "generic_decline":
            return "The bank did not return any further details with this decline."
        return f"The bank returned the decline code `{self.reason}`."


_DECLINED = "Your card was declined."

SOFT = MappingProxyType(
    {
        Decline(
            "insufficient_funds",
            "card_declined",
            "Your card has insufficient funds.",
            False,
            "try_again_later",
            "51",
        ): 40.0,
        Decline("do_not_honor", "card_declined", _DECLINED, False, "try_again_later", "05"): 20.0,
        Decline("generic_decline", "card_declined", _DECLINED, False, None, "05"): 25.0,
        Decline("try_again_later", "card_declined", _DECLINED, False, "try_again_later", "19"): 8.0,
        Decline(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
            False,
            "try_again_later",
            "96",
        ): 7.0,
    }
)

HARD = MappingProxyType(
    {
        Decline(
            "expired_card", "expired_card", "Your card has expired.", True, "confirm_card_data", "54"
        ): 35.0,
        Decline(
            "incorrect_number",
            "incorrect_number",
            "Your card number is incorrect.",
            True,
            "confirm_card_data",
            "14",
        ): 10.0,
        Decline("lost_card", "card_declined", _DECLINED, True, "do_not_try_again", "41"): 15.0,
        Decline("stolen_card", "card_declined", _DECLINED, True, "do_not_try_again", "43"): 15.0,
        # Radar blocks these before they reach the card network.
        Decline(
            "fraudulent",
            "card_declined",
            _DECLINED,
            True,
            "do_not_try_again",
            None,
            outcome_type="blocked",
            network_status="not_sent_to_network",
            risk_level="highest",
        ): 25.0,
    }
)
