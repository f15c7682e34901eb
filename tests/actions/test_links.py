"""Card-update links: signed, tamper-evident and expiring; webhooks: signed the same way Stripe signs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from revops.actions.adapters import verify_webhook, webhook_signature
from revops.actions.links import InvalidLink, sign_card_update_link, verify_card_update_link

SECRET = b"a-long-random-secret"
NOW = datetime(2026, 11, 1, 14, tzinfo=UTC)


def _link(expires_in: timedelta = timedelta(hours=72)) -> str:
    return sign_card_update_link(
        SECRET, "https://billing.acme.test/card", "acme", "in_1", "cus_1", NOW + expires_in
    )


def test_a_signed_link_verifies_to_its_claims_until_it_expires() -> None:
    claims = verify_card_update_link(SECRET, _link(), now=NOW)
    assert (claims.workspace_id, claims.invoice_id, claims.customer_id) == ("acme", "in_1", "cus_1")
    assert claims.expires_at == NOW + timedelta(hours=72)
    with pytest.raises(InvalidLink) as expired:
        verify_card_update_link(SECRET, _link(), now=NOW + timedelta(hours=72))
    assert expired.value.reason == "expired"


@pytest.mark.parametrize("field", ["w", "i", "c", "e"])
def test_changing_any_part_of_a_link_breaks_its_signature(field: str) -> None:
    url = urlsplit(_link())
    params = {name: values[0] for name, values in parse_qs(url.query).items()}
    params[field] = "in_2" if field != "e" else str(int(params["e"]) + 86_400)
    with pytest.raises(InvalidLink) as tampered:
        verify_card_update_link(SECRET, f"{url.scheme}://{url.netloc}{url.path}?{urlencode(params)}", now=NOW)
    assert tampered.value.reason == "bad_signature"


def test_another_secret_or_a_missing_part_is_refused() -> None:
    with pytest.raises(InvalidLink) as wrong:
        verify_card_update_link(b"another-secret", _link(), now=NOW)
    assert wrong.value.reason == "bad_signature"
    with pytest.raises(InvalidLink) as malformed:
        verify_card_update_link(SECRET, _link().replace("&s=", "&x="), now=NOW)
    assert malformed.value.reason == "malformed"
    with pytest.raises(ValueError, match="signing secret"):
        sign_card_update_link(b"", "https://x.test", "acme", "in_1", "cus_1", NOW)


def test_webhook_signatures_verify_and_expire() -> None:
    body = b'{"id": "evt_1"}'
    header = webhook_signature(SECRET, 1_000_000, body)
    assert verify_webhook(SECRET, header, body, now=1_000_100)
    assert not verify_webhook(SECRET, header, body + b" ", now=1_000_100)
    assert not verify_webhook(b"other", header, body, now=1_000_100)
    assert not verify_webhook(SECRET, header, body, now=1_000_000 + 301)
