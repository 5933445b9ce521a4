"""Verifying the stored OpenID Connect ID token (`whoami --verify`).

The signature against the issuer's published keys (its JWKS), then `iss`, `aud` and `exp`
(with a small leeway for clocks). The JWKS is fetched like every answer from an auth
endpoint (answers.fetch: one deadline, at most 1 MiB) and read with PyJWT's PyJWKSet, once per
command; nothing is cached on disk. Only asymmetric algorithms are accepted: `none` and the
HMAC family (keyed with a client secret authcli may not even have) never verify anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import AuthError, NetworkError

if TYPE_CHECKING:
    from .config import Profile

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 5.0  # seconds of clock difference forgiven on exp, iat and nbf


def jwks_uri(profile: Profile, env: Mapping[str, str]) -> str | None:
    """The profile's jwks_uri (recorded at login from discovery), else discovery now; None
    for a provider without discovery or keys: then the ID token cannot be verified."""
    if profile.jwks_uri:
        return profile.jwks_uri
    if not profile.issuer:
        return None
    from .flows.oauth import discover

    uri = discover(profile, env, profile.issuer).get("jwks_uri")
    return uri if isinstance(uri, str) and uri else None


def verify_id_token(profile: Profile, env: Mapping[str, str], token: str, uri: str) -> dict[str, Any]:
    """The ID token's claims once verified; AuthError (exit 4) saying why it is not."""
    import jwt

    again = f"log in again: authcli login{'' if profile.name == 'default' else ' --profile ' + profile.name}"
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError(f"the stored ID token is not a JWT ({exc}); {again}") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AuthError(f"the ID token is signed with {alg!r}, which authcli does not accept as proof "
                        f"(only {', '.join(ALGORITHMS)})")
    key = _key(profile, env, uri, header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], audience=profile.client_id, issuer=profile.issuer, leeway=LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]})
    except jwt.ExpiredSignatureError:
        raise AuthError(f"the ID token has expired (its exp has passed); {again}") from None
    except jwt.InvalidAudienceError:
        raise AuthError(f"the ID token was issued to another client (its aud is not {profile.client_id}); "
                        "check the profile's client_id") from None
    except jwt.InvalidIssuerError:
        raise AuthError(f"the ID token was issued by someone else (its iss is not {profile.issuer})") from None
    except jwt.InvalidSignatureError:
        raise AuthError(f"the ID token's signature does not match the keys {profile.issuer or 'the provider'} "
                        f"publishes at {uri}; {again}") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"the ID token did not verify ({exc}); {again}") from None
    return claims


def _key(profile: Profile, env: Mapping[str, str], uri: str, kid: Any) -> Any:
    import httpx
    import jwt

    from .answers import fetch, json_body
    from .http import translate

    try:
        response = fetch(profile, env, "GET", uri, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise translate(exc, uri, profile.timeout) from None
    data = json_body(response)
    if response.status_code != 200 or not isinstance(data, dict):
        raise NetworkError(f"the provider's keys at {uri} answered HTTP {response.status_code}, not a JWKS")
    try:
        keys = jwt.PyJWKSet.from_dict(data).keys
    except jwt.PyJWTError as exc:
        raise NetworkError(f"the provider's keys at {uri} are not a usable JWKS ({exc})") from None
    usable = [k for k in keys if k.public_key_use in (None, "sig")]
    if kid is not None:
        usable = [k for k in usable if k.key_id == kid]
    if len(usable) != 1:
        what = f"no key {kid!r}" if kid is not None else f"{len(usable)} signing keys and a token naming none"
        raise AuthError(f"the provider's JWKS at {uri} has {what}; the ID token cannot be verified") from None
    return usable[0].key

