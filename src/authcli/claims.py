"""What a token says, for people: a JWT's claims (unverified), the account they name, and
times written for reading. Display only: nothing here decides whether a token is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, for display and for a missing lifetime only: never verified, never
    trusted. Decoded by hand (base64url JSON): PyJWT would import cryptography (~90 ms) for a
    signature this never checks."""
    if token.count(".") != 2:
        return None
    import base64
    import binascii

    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def account_of(claims: Mapping[str, Any] | None) -> str | None:
    """Who a set of claims (an ID token's, a JWT access token's, a userinfo answer) names, for a
    message: email, preferred_username, name, then sub. Printable, never a token."""
    if not claims:
        return None
    for key in ("email", "preferred_username", "name", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            from .termsafe import printable

            return printable(value.strip()[:200])
    return None


def iso_utc(seconds: float | None) -> str | None:
    """A Unix time as RFC 3339 UTC ('2026-12-03T14:05:00Z'), for people and for wrappers."""
    if seconds is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def humanize(seconds: float) -> str:
    """'in 12m', 'expired 3m ago'."""
    span = abs(int(seconds))
    if span < 60:
        text = f"{span}s"
    elif span < 3600:
        text = f"{span // 60}m"
    elif span < 86400:
        text = f"{span // 3600}h{(span % 3600) // 60:02d}m"
    else:
        text = f"{span // 86400}d"
    return f"in {text}" if seconds >= 0 else f"expired {text} ago"
