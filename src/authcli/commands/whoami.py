"""authcli whoami: who the session belongs to and how long it lasts.

Local state only, unless --verify: no network, no refresh. Claims are read from the ID token
(OpenID Connect) or a JWT access token for display only: never verified, never trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..claims import humanize, iso_utc, jwt_claims
from ..config import Profile
from ..context import Context
from ..errors import AuthcliError, AuthError, NetworkError, NotLoggedIn, UsageError
from ..session import Session, login_hint
from ..termsafe import printable
from ..urls import join, origin_str


@dataclass
class WhoamiOptions:
    profile: str | None = None
    json: bool = False
    verify: bool = False


TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time", "updated_at")


def describe(ctx: Context, session: Session) -> dict[str, Any]:
    """The documented `whoami --json` object (keys are stable; see docs/storage.md)."""
    record = session.load()
    now = ctx.clock()
    name = session.profile.name
    oauth = session.profile.flow == "oauth"
    # Client credentials renew by asking again, a token exchange by exchanging the subject token
    # read again: such a session lasts as long as the secret, key or workload identity.
    renews_by_asking = oauth and session.profile.grant in ("client-credentials", "token-exchange")
    if record is None or not (record.has_session(now) or renews_by_asking):
        raise NotLoggedIn(f"not logged in; run {login_hint(name)}")
    id_claims = jwt_claims(record.id_token) if record.id_token else None
    claims = id_claims or jwt_claims(record.access_token) or {}
    left = record.seconds_left(now)
    return {
        "profile": name,
        "api_url": session.profile.api_url,
        "issuer": session.profile.issuer if oauth else None,
        "client_id": session.profile.client_id if oauth else None,
        "user": {
            "id": claims.get("sub"),
            "email": claims.get("email"),
            "name": claims.get("name"),
        },
        "scopes": record.scope.split() if record.scope else None,
        "id_token_claims": id_claims,
        "expires_at": iso_utc(record.expires_at),
        "expires_in": None if left is None else int(left),
        "access_token_valid": record.valid_for(now),
        "refresh_token": record.refresh_token is not None,
        "renewable": record.refresh_token is not None or renews_by_asking,
        "storage": session.store.kind,
        "storage_location": session.store.location(name),
        "dpop_jkt": _thumbprint(record.dpop_key),
    }


def _thumbprint(key: str | None) -> str | None:
    """The DPoP key's RFC 7638 thumbprint (what the server binds the tokens to), never the key."""
    if not key:
        return None
    from ..dpop import prover

    return prover(key).thumbprint


def verify_target(profile: Profile) -> tuple[str, str, str | None]:
    """Where --verify asks, who that is, and the origin the token may go to there.

    The OpenID Connect userinfo endpoint for a user's OAuth session, else the API's me_path
    (a client-credentials token has no user to ask about). The access token goes to the
    userinfo endpoint only when it is the provider's own: the issuer's or the token endpoint's
    origin, where the token came from; anywhere else it is not sent.
    """
    userinfo = profile.userinfo_endpoint
    if profile.flow == "oauth" and userinfo and profile.grant != "client-credentials":
        provider = {origin_str(u) for u in (profile.issuer, profile.token_endpoint) if u}
        if origin_str(userinfo) not in provider:
            raise UsageError(f"the userinfo endpoint {userinfo} is not on the provider's origin, so authcli will "
                             "not send the token there; fix userinfo_endpoint in the profile")
        return userinfo, "the provider", origin_str(userinfo)
    return join(profile.api_url or "", profile.me_path), "the API", None


def verify(ctx: Context, session: Session) -> Any:
    """Ask who the session belongs to, refreshing first if needed."""
    import httpx

    from ..answers import fetch, json_body
    from ..auth import SessionAuth
    from ..http import translate

    url, who, origin = verify_target(session.profile)
    auth = SessionAuth(session, origin=origin)
    try:
        response = fetch(session.profile, ctx.env, "GET", url, auth=auth, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise translate(exc, url, session.profile.timeout) from None
    if response.status_code == 401:
        raise AuthError(f"{who} rejected the session (HTTP 401 from {url}); run {login_hint(session.profile.name)}")
    if response.status_code >= 500:
        raise NetworkError(f"{who} answered HTTP {response.status_code} from {url}")
    if response.status_code >= 400:
        fix = "check the profile's scope (userinfo needs openid)" if origin else "check the profile's me_path"
        raise AuthcliError(f"{who} answered HTTP {response.status_code} from {url}; {fix}")
    data = json_body(response)
    return data if data is not None else response.text


def _user_line(user: dict[str, Any]) -> str:
    name, email, uid = user.get("name"), user.get("email"), user.get("id")
    text = name or email or uid or "unknown (no ID token, and the access token is not a JWT)"
    if name and email:
        text = f"{name} <{email}>"
    if uid and text != uid:
        text += f" ({uid})"
    return text


def _refresh_line(info: dict[str, Any]) -> str:
    if info["refresh_token"]:
        return "held (the session renews itself)"
    if info["renewable"]:
        return "none needed (client credentials: a new token is fetched as this one nears expiry)"
    return "none (log in again when the access token expires)"


def render(info: dict[str, Any]) -> str:
    left = info["expires_in"]
    if info["expires_at"] is None:
        access = "expiry unknown (used until the API answers 401)"
    else:
        state = "valid" if info["access_token_valid"] else "expired"
        access = f"{state}, expires {info['expires_at']} ({humanize(left)})"
        if not info["access_token_valid"] and info["renewable"]:
            access += ", renewed on next use"
    lines = [
        f"Profile:  {info['profile']}",
        f"API:      {info['api_url']}",
    ]
    if info["issuer"] or info["client_id"]:
        lines.append(f"Issuer:   {info['issuer'] or 'none (explicit endpoints)'}, client {info['client_id']}")
    lines.append(f"User:     {_user_line(info['user'])}")
    if info["scopes"]:
        lines.append(f"Scopes:   {' '.join(info['scopes'])}")
    lines += [
        f"Access:   {access}",
        f"Refresh:  {_refresh_line(info)}",
        f"Storage:  {info['storage']}: {info['storage_location']}",
    ]
    if info["dpop_jkt"]:
        lines.append(f"Bound:    DPoP, key thumbprint {info['dpop_jkt']} (copied tokens are useless without the key)")
    if info["id_token_claims"]:
        if info.get("id_token_verified"):
            lines.append("ID token: verified (signature by the issuer's published key; iss, aud, exp)")
        else:
            lines.append("ID token: (decoded for display, not verified)")
        claims = info["id_token_claims"]
        width = max(len(k) for k in claims)
        for key in sorted(claims):
            value = claims[key]
            if key in TIME_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = _claim_time(value)
            elif not isinstance(value, str):
                value = json.dumps(value, sort_keys=True)
            lines.append(f"  {key + ':':<{width + 1}} {value}")
    if "verified" in info:
        lines.append(f"Verified: {json.dumps(info['verified'], sort_keys=True)}")
    # Claims are unverified text from a server: shown, never obeyed by the terminal.
    return "\n".join(printable(line) for line in lines) + "\n"


def _claim_time(value: float) -> str:
    """An unverified time claim as a date, or as the number it is when no calendar has it
    (exp = 1e300, NaN): shown, never a crash."""
    try:
        return iso_utc(value) or ""
    except (OverflowError, ValueError, OSError):
        return json.dumps(value)


def options(profile: str | None, json_: bool, verify: bool) -> WhoamiOptions:
    """From the command line's parameters (cli.py's and main.py's fast path alike)."""
    return WhoamiOptions(profile, json_, verify)


def verify_id_token(ctx: Context, session: Session) -> bool:
    """Whether the stored ID token verified: True, or AuthError saying why not; False when
    there is none, or no published keys to check it with (a provider without discovery)."""
    from ..idtoken import jwks_uri
    from ..idtoken import verify_id_token as check

    record = session.load()
    if record is None or not record.id_token:
        return False
    uri = jwks_uri(session.profile, ctx.env)
    if uri is None:
        return False
    check(session.profile, ctx.env, record.id_token, uri)
    return True


def run(opts: WhoamiOptions, ctx: Context) -> int:
    session = Session(ctx, ctx.profile(opts.profile))
    info = describe(ctx, session)
    if opts.verify:
        info["verified"] = verify(ctx, session)
        info.update({k: v for k, v in describe(ctx, session).items() if k != "profile"})
        # After the call above, which may have refreshed (and so renewed the ID token).
        info["id_token_verified"] = verify_id_token(ctx, session) if info["id_token_claims"] else False
    if opts.json:
        ctx.io.write_out(json.dumps(info, indent=2, sort_keys=True) + "\n")
    else:
        ctx.io.write_out(render(info))
    return 0
