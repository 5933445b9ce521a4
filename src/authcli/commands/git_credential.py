"""authcli git-credential: git's credential-helper protocol, so git over https authenticates
with the session of the profile whose API origin git is asking about.

    git config --global credential.https://git.example.com.helper '!authcli git-credential'

git writes `key=value` lines and a blank line on stdin; for `get`, authcli answers with
`username`, `password` (a fresh access token, refreshed by the engine like any other) and
`password_expiry_utc`. A request for an origin no profile belongs to gets no answer, so git
asks its next helper: a token only ever goes to its own API's origin. `store` and `erase`
are no-ops: the session lives in authcli's store, not in git's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from ..config import Profile, effective
from ..context import Context
from ..errors import UsageError
from ..session import Session
from ..text import has_control
from ..tokens import jwt_claims
from ..urls import origin_str

ACTIONS = ("get", "store", "erase")


@dataclass
class GitCredentialOptions:
    action: str
    profile: str | None = None


def options(action: str, profile: str | None) -> GitCredentialOptions:
    """From the command line's parameters (cli.py's and main.py's fast path alike)."""
    return GitCredentialOptions(action, profile)


def read_request(stream: IO[str]) -> dict[str, str]:
    """git's attributes, up to a blank line or the end of input (the last value of a key wins)."""
    request: dict[str, str] = {}
    for line in stream:
        line = line.rstrip("\n")
        if not line:
            break
        key, sep, value = line.partition("=")
        if sep:
            request[key] = value
    return request


def _matching(ctx: Context, flag: str | None, wanted: str) -> Profile | None:
    """The profile for ``wanted`` (an origin): the named one if its origin matches, else the
    current profile if it matches, else the first matching one by name."""
    if flag is not None:
        profile = ctx.profile(flag)
        return profile if profile.api_url and origin_str(profile.api_url) == wanted else None
    config = ctx.config
    names = sorted(name for name, p in config.profiles.items() if p.api_url and origin_str(p.api_url) == wanted)
    current = config.default_name(ctx.env)
    name = current if current in names else (names[0] if names else None)
    return None if name is None else ctx.profile(name)


def _username(access_token: str, id_token: str | None) -> str:
    claims = (jwt_claims(id_token) if id_token else None) or jwt_claims(access_token) or {}
    for key in ("email", "preferred_username", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value and not has_control(value):
            return value
    return "authcli"


def run(opts: GitCredentialOptions, ctx: Context) -> int:
    if opts.action not in ACTIONS:
        raise UsageError(f"unknown git-credential action {opts.action!r}: git calls it with get, store or erase")
    request = read_request(ctx.io.stdin)
    if opts.action != "get":
        return 0
    protocol, host = request.get("protocol", ""), request.get("host", "")
    if protocol not in ("http", "https") or not host or has_control(host):
        return 0
    try:
        wanted = origin_str(f"{protocol}://{host}")
    except ValueError:
        return 0
    profile = _matching(ctx, opts.profile, wanted)
    if profile is None:
        return 0  # not ours: git asks the next helper
    if profile.dpop:
        # git sends a password as Basic or Bearer: a DPoP-bound token is useless that way.
        ctx.io.warn(f"profile '{profile.name}' holds DPoP-bound tokens, which git cannot present; no answer")
        return 0
    record = Session(ctx, effective(profile, ctx.env)).valid_record()  # the refresh margin applies
    lines = [f"username={_username(record.access_token, record.id_token)}", f"password={record.access_token}"]
    if record.expires_at is not None:
        lines.append(f"password_expiry_utc={int(record.expires_at)}")
    ctx.io.write_out("\n".join(lines) + "\n")
    return 0
