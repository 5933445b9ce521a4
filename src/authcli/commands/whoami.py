"""authcli whoami: who the session belongs to and how long it lasts.

Local state only, unless --verify: no network, no refresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..context import Context
from ..errors import AuthcliError, AuthError, NetworkError, NotLoggedIn
from ..session import Session, login_hint
from ..tokens import humanize, jwt_claims
from ..urls import join


@dataclass
class WhoamiOptions:
    profile: str | None = None
    json: bool = False
    verify: bool = False


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def describe(ctx: Context, session: Session) -> dict[str, Any]:
    """The documented `whoami --json` object (keys are stable; see README)."""
    record = session.load()
    now = ctx.clock()
    name = session.profile.name
    if record is None or not record.has_session(now):
        raise NotLoggedIn(f"not logged in; run {login_hint(name)}")
    claims = jwt_claims(record.access_token) or {}
    left = record.seconds_left(now)
    return {
        "profile": name,
        "api_url": session.profile.api_url,
        "user": {
            "id": claims.get("sub"),
            "email": claims.get("email"),
            "name": claims.get("name"),
        },
        "expires_at": _iso(record.expires_at),
        "expires_in": None if left is None else int(left),
        "access_token_valid": record.valid_for(now),
        "refresh_token": record.refresh_token is not None,
        "storage": session.store.kind,
        "storage_location": session.store.location(name),
    }


def verify(ctx: Context, session: Session) -> Any:
    """Ask the API's "me" endpoint, refreshing first if needed."""
    import httpx

    from ..auth import SessionAuth
    from ..http import json_body, make_client, translate

    url = join(session.profile.api_url or "", session.profile.me_path)
    try:
        with make_client(session.profile, ctx.env) as client:
            response = client.get(url, auth=SessionAuth(session), headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise translate(exc, url, session.profile.timeout) from None
    if response.status_code == 401:
        raise AuthError(f"the API rejected the session (HTTP 401 from {url}); run {login_hint(session.profile.name)}")
    if response.status_code >= 500:
        raise NetworkError(f"the API answered HTTP {response.status_code} from {url}")
    if response.status_code >= 400:
        raise AuthcliError(f"the API answered HTTP {response.status_code} from {url}; check the profile's me_path")
    data = json_body(response)
    return data if data is not None else response.text


def _user_line(user: dict[str, Any]) -> str:
    name, email, uid = user.get("name"), user.get("email"), user.get("id")
    text = name or email or uid or "unknown (the access token is not a JWT)"
    if name and email:
        text = f"{name} <{email}>"
    if uid and text != uid:
        text += f" ({uid})"
    return text


def render(info: dict[str, Any]) -> str:
    left = info["expires_in"]
    if info["expires_at"] is None:
        access = "expiry unknown (used until the API answers 401)"
    else:
        state = "valid" if info["access_token_valid"] else "expired"
        access = f"{state}, expires {info['expires_at']} ({humanize(left)})"
        if not info["access_token_valid"] and info["refresh_token"]:
            access += ", renewed on next use"
    lines = [
        f"Profile:  {info['profile']}",
        f"API:      {info['api_url']}",
        f"User:     {_user_line(info['user'])}",
        f"Access:   {access}",
        f"Refresh:  {'held (the session renews itself)' if info['refresh_token'] else 'none (log in again when the access token expires)'}",
        f"Storage:  {info['storage']}: {info['storage_location']}",
    ]
    if "verified" in info:
        lines.append(f"Verified: {json.dumps(info['verified'], sort_keys=True)}")
    return "\n".join(lines) + "\n"


def run(opts: WhoamiOptions, ctx: Context) -> int:
    session = Session(ctx, ctx.profile(opts.profile))
    info = describe(ctx, session)
    if opts.verify:
        info["verified"] = verify(ctx, session)
        info.update({k: v for k, v in describe(ctx, session).items() if k != "profile"})
    if opts.json:
        ctx.io.write_out(json.dumps(info, indent=2, sort_keys=True) + "\n")
    else:
        ctx.io.write_out(render(info))
    return 0
