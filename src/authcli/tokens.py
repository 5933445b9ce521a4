"""The token record, its expiry arithmetic, and making one from a token endpoint's answer.
(What a token says, for people, is claims.py.)

Expiry is always ``local clock when the request was sent + lifetime``: the server's
clock is never compared with ours, so a skewed server cannot cause a refresh storm.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .claims import account_of, jwt_claims
from .rules import RECORD_VERSION, record_problem

# What may go into "Authorization: Bearer <token>" and a form field without breaking the
# message: visible ASCII (RFC 6749 VSCHAR without the space). RFC 6750's b64token is
# stricter, but real providers issue tokens outside it (Salesforce's contain '!').
_TOKEN = re.compile(r"^[\x21-\x7e]+$")
MAX_LIFETIME = 10 * 365 * 86400.0  # seconds; anything longer is not a lifetime but a mistake


class MalformedRecord(ValueError):
    """Stored text that is not an authcli token record."""


class MalformedResponse(ValueError):
    """A token endpoint answer that does not follow the protocol."""


@dataclass(frozen=True, repr=False)
class TokenRecord:
    access_token: str
    refresh_token: str | None
    expires_at: float | None
    obtained_at: float
    api_origin: str
    token_type: str = "Bearer"
    # An OAuth client's secret is a secret like the tokens: it lives in the record, never in config.
    client_secret: str | None = None
    # OpenID Connect: the ID token (claims shown by whoami, never trusted) and the granted scopes.
    id_token: str | None = None
    scope: str | None = None
    # DPoP (dpop.py): the private key the tokens are bound to, PEM; kept and deleted with them.
    dpop_key: str | None = None

    def __repr__(self) -> str:
        return (
            f"TokenRecord(access_token='***', refresh_token={'***' if self.refresh_token else None!r}, "
            f"expires_at={self.expires_at!r}, api_origin={self.api_origin!r}, "
            f"client_secret={'***' if self.client_secret else None!r}, "
            f"id_token={'***' if self.id_token else None!r}, scope={self.scope!r}, "
            f"dpop_key={'***' if self.dpop_key else None!r})"
        )

    __str__ = __repr__

    @property
    def lifetime(self) -> float | None:
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - self.obtained_at)

    def seconds_left(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now

    def valid_for(self, now: float, seconds: float = 0.0) -> bool:
        """True when the access token will still be valid ``seconds`` from ``now``.

        An unknown expiry counts as valid: such a token is used until the API answers 401.
        """
        return self.expires_at is None or self.expires_at - now > seconds

    def has_session(self, now: float) -> bool:
        return self.refresh_token is not None or self.valid_for(now)

    def to_json(self) -> str:
        return json.dumps({"version": RECORD_VERSION, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TokenRecord:
        try:
            data = json.loads(text)
        except ValueError:
            raise MalformedRecord("not JSON") from None
        problem = record_problem(data)
        if problem is not None:
            raise MalformedRecord(problem)
        record = cls(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=data["expires_at"],
            obtained_at=data["obtained_at"],
            api_origin=data["api_origin"],
            token_type=data.get("token_type") or "Bearer",
            client_secret=data.get("client_secret"),
            id_token=data.get("id_token"),
            scope=data.get("scope"),
            dpop_key=data.get("dpop_key"),
        )
        return record


def _field(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return None


def _sane_lifetime(value: Any, warn: Callable[[str], None]) -> float | None:
    """expires_in as a number of seconds, or None when absent or not a sane lifetime."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise MalformedResponse("expires_in is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedResponse("expires_in is not a number")
    if not (math.isfinite(value) and 0 <= value <= MAX_LIFETIME):
        warn("the server sent an impossible token lifetime (expires_in); treating the expiry as unknown")
        return None
    return float(value)


def record_from_response(
    data: Any,
    sent_at: float,
    api_origin: str,
    previous: TokenRecord | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> TokenRecord:
    """Build a record from a login or refresh answer (either spelling of the fields).

    On a refresh, ``previous`` supplies what the answer may leave out: the refresh token (no
    rotation), the ID token, and the scope (RFC 6749 5.1: absent means unchanged).
    """
    if not isinstance(data, dict):
        raise MalformedResponse("the answer is not a JSON object")
    access = _field(data, "accessToken", "access_token")
    if not isinstance(access, str) or not access:
        raise MalformedResponse("the answer has no access token")
    refresh = _field(data, "refreshToken", "refresh_token")
    if refresh is not None and not isinstance(refresh, str):
        raise MalformedResponse("the refresh token in the answer is not a string")
    for token in (access, refresh):
        if token and not _TOKEN.match(token):
            # Never echoed: the message is about the token, not the token.
            raise MalformedResponse("the server sent a malformed token (characters a token cannot have); nothing was stored")
    token_type = _field(data, "tokenType", "token_type") or "Bearer"
    lifetime = _sane_lifetime(_field(data, "expiresIn", "expires_in"), warn)
    if lifetime is None:
        lifetime = jwt_lifetime(access)
    id_token, scope = data.get("id_token"), data.get("scope")
    if id_token is not None and not isinstance(id_token, str):
        raise MalformedResponse("the ID token in the answer is not a string")
    if scope is not None and not isinstance(scope, str):
        raise MalformedResponse("the scope in the answer is not a string")
    return TokenRecord(
        access_token=access,
        refresh_token=refresh or (previous.refresh_token if previous else None),
        expires_at=None if lifetime is None else sent_at + float(lifetime),
        obtained_at=sent_at,
        api_origin=api_origin,
        token_type=str(token_type),
        client_secret=previous.client_secret if previous else None,
        id_token=id_token or (previous.id_token if previous else None),
        scope=scope or (previous.scope if previous else None),
        dpop_key=previous.dpop_key if previous else None,
    )


def record_account(record: TokenRecord) -> str | None:
    """The account a session belongs to, as its ID token or JWT access token says (unverified)."""
    return account_of(jwt_claims(record.id_token) if record.id_token else None) or account_of(
        jwt_claims(record.access_token))


def jwt_lifetime(token: str) -> float | None:
    claims = jwt_claims(token)
    if not claims:
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, (int, float)) and isinstance(iat, (int, float)) and exp > iat:
        lifetime = float(exp - iat)
        return lifetime if math.isfinite(lifetime) and lifetime <= MAX_LIFETIME else None
    return None
