"""Signed, expiring card-update links for dunning email (HMAC-SHA256), and their verification.

A link names the workspace, invoice and customer it was made for and when it expires; the signature
covers all four, so none can be changed, and a link past its expiry is refused. The page serving the
link calls `verify_card_update_link` with the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

LINK_VERSION = "v1"


class InvalidLink(ValueError):
    """A link that must not be honoured; `reason` is `malformed`, `bad_signature` or `expired`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    workspace_id: str
    invoice_id: str
    customer_id: str
    expires_at: datetime


def _signature(secret: bytes, workspace_id: str, invoice_id: str, customer_id: str, expires: int) -> str:
    message = "\n".join((LINK_VERSION, workspace_id, invoice_id, customer_id, str(expires))).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_card_update_link(
    secret: bytes, base_url: str, workspace_id: str, invoice_id: str, customer_id: str, expires_at: datetime
) -> str:
    if not secret:
        raise ValueError("a card-update link needs a signing secret")
    expires = int(expires_at.timestamp())
    query = urlencode(
        {
            "w": workspace_id,
            "i": invoice_id,
            "c": customer_id,
            "e": expires,
            "s": _signature(secret, workspace_id, invoice_id, customer_id, expires),
        }
    )
    return f"{base_url}?{query}"


def verify_card_update_link(secret: bytes, url: str, now: datetime | None = None) -> LinkClaims:
    """The claims of a link signed with `secret` and not expired at `now`; raises `InvalidLink` otherwise."""
    params = parse_qs(urlsplit(url).query)
    try:
        workspace_id, invoice_id, customer_id, expires_text, signature = (
            params[name][0] for name in ("w", "i", "c", "e", "s")
        )
        expires = int(expires_text)
    except (KeyError, IndexError, ValueError):
        raise InvalidLink(
            "malformed", "the link lacks its workspace, invoice, customer, expiry or signature"
        ) from None
    expected = _signature(secret, workspace_id, invoice_id, customer_id, expires)
    if not hmac.compare_digest(expected, signature):
        raise InvalidLink("bad_signature", "the link's signature does not match")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if (now or datetime.now(UTC)) >= expires_at:
        raise InvalidLink("expired", f"the link expired at {expires_at.isoformat()}")
    return LinkClaims(workspace_id, invoice_id, customer_id, expires_at)
