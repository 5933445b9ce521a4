"""authcli git-credential: git's credential-helper protocol, so git over https authenticates
with the session of the profile whose API origin git is asking about.

    authcli git-credential --configure https://git.example.com

writes, with `git config --add`, an empty `credential.https://git.example.com.helper` (which
empties the helper list git has read so far for that URL) and then this helper, so that no
general helper (store, osxkeychain, manager) is handed the token to keep and serve stale
later (gitsetup.py says how git builds the list). A helper git reads after that section
would still join; so `get` asks git for the list first and answers only when authcli is the
one helper git runs for the URL.

git writes `key=value` lines and a blank line on stdin. For `get`, authcli answers with
`username`, `password` (a valid access token, refreshed by the engine like any other) and
`password_expiry_utc`, but only when git's `username`, if it sent one, is the profile's git
user name (--username, else the profile's git_username, else the session's email, user name
or subject): a remote URL naming someone else is not ours to answer. A request for an origin
no profile belongs to gets no answer either, so git asks its next helper: a token only ever
goes to its own API's origin.

`erase` carrying the access token authcli hands out means the server refused it. authcli
refreshes at once, through the engine with that token as the rejected one: under the
profile's lock, single-flight, and a token a sibling process got meanwhile is taken instead
of refreshing twice. The new session is in authcli's store, so the next `get` (any process)
hands out the new token, and nothing about the refused one is written anywhere. `store` is a
no-op, and so is `erase` of anything else (an older token, another helper's password): the
session lives in authcli's store, not in git's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from ..claims import jwt_claims
from ..config import Profile, effective
from ..context import Context
from ..errors import UsageError
from ..session import Session
from ..termsafe import has_control
from ..tokens import TokenRecord
from ..urls import origin_str

ACTIONS = ("get", "store", "erase")


@dataclass
class GitCredentialOptions:
    action: str | None = None
    profile: str | None = None
    username: str | None = None
    configure: str | None = None
    git_config: str | None = None


def options(action: str | None = None, profile: str | None = None, username: str | None = None,
            configure: str | None = None, git_config: str | None = None) -> GitCredentialOptions:
    """From the command line's parameters (cli.py's and main.py's fast path alike)."""
    return GitCredentialOptions(action, profile, username, configure, git_config)


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


def _requested_profile(ctx: Context, opts: GitCredentialOptions, request: dict[str, str]) -> Profile | None:
    """The profile git's request is for, or None when it is not ours to answer."""
    protocol, host = request.get("protocol", ""), request.get("host", "")
    if protocol not in ("http", "https") or not host or has_control(host):
        return None
    try:
        wanted = origin_str(f"{protocol}://{host}")
    except ValueError:
        return None
    return _matching(ctx, opts.profile, wanted)


def _checked_username(value: str, where: str) -> str:
    if not value or has_control(value):
        raise UsageError(f"{where} must be a non-empty user name without control characters")
    return value


def configured_username(opts: GitCredentialOptions, profile: Profile) -> str | None:
    """The git user name set for this helper (flag > config.toml), or None: the session's."""
    if opts.username is not None:
        return _checked_username(opts.username, "--username")
    if profile.git_username is not None:
        return _checked_username(profile.git_username, f"profiles.{profile.name}.git_username in config.toml")
    return None


def session_username(record: TokenRecord) -> str:
    claims = (jwt_claims(record.id_token) if record.id_token else None) or jwt_claims(record.access_token) or {}
    for key in ("email", "preferred_username", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value and not has_control(value):
            return value
    return "authcli"


def _ours(request: dict[str, str], name: str) -> bool:
    """git sends a username when the remote URL or credential.username names one."""
    return request.get("username", name) == name


def _check_alone(request: dict[str, str]) -> None:
    """git hands what `get` answers to every helper in its list on `store`: answer only when
    authcli is the one helper git runs for this URL, or a general helper (store,
    osxkeychain, manager) would keep the token and serve it stale later."""
    from ..gitsetup import helpers_for

    helpers = helpers_for(request["protocol"], request["host"])
    if len(helpers) > 1:
        url = f"{request['protocol']}://{request['host']}"
        where = ", ".join(sorted(set(helpers)))
        raise UsageError(f"git would also hand this token to {len(helpers) - 1} other credential helper(s) for "
                         f"{url} (configured in {where}), which may keep it and serve it stale; run authcli "
                         f"git-credential --configure {url} (with --git-config FILE for a helper in a repository's "
                         "config) or remove them; no answer")


def get(ctx: Context, opts: GitCredentialOptions, profile: Profile, request: dict[str, str]) -> None:
    name = configured_username(opts, profile)
    if name is not None and not _ours(request, name):
        return  # someone else's: answered without reading the session
    session = Session(ctx, effective(profile, ctx.env))
    if name is None:
        current = session.load()
        name = session_username(current) if current is not None else None
        if name is not None and not _ours(request, name):
            return
    _check_alone(request)
    record = session.valid_record()  # the refresh margin applies
    name = name or session_username(record)
    lines = [f"username={name}", f"password={record.access_token}"]
    if record.expires_at is not None:
        lines.append(f"password_expiry_utc={int(record.expires_at)}")
    ctx.io.write_out("\n".join(lines) + "\n")


def erase(ctx: Context, opts: GitCredentialOptions, profile: Profile, request: dict[str, str]) -> None:
    rejected = request.get("password")
    if not rejected:
        return
    session = Session(ctx, effective(profile, ctx.env))
    current = session.load()
    if current is None or not _ours(request, configured_username(opts, profile) or session_username(current)):
        return
    # The engine refreshes only when the stored token is the rejected one: an older token, or
    # another helper's password, leaves the session as it is.
    session.valid_record(rejected=rejected)


def configure(ctx: Context, opts: GitCredentialOptions) -> int:
    from ..gitsetup import credential_url, helper_command, write_helper

    assert opts.configure is not None
    url = credential_url(opts.configure)
    profile = _matching(ctx, opts.profile, origin_str(url))
    if profile is None:
        named = f"profile '{opts.profile}' is not" if opts.profile else "no profile is"
        raise UsageError(f"{named} for {url}: git-credential answers only for a profile's own API origin; "
                         f"log in with authcli login --api-url {url}, or name the profile with --profile")
    if profile.dpop:
        raise UsageError(f"profile '{profile.name}' holds DPoP-bound tokens, which git cannot present")
    args = ["git-credential", "--profile", profile.name]
    if opts.username is not None:
        args += ["--username", _checked_username(opts.username, "--username")]
    command = helper_command(args)
    where = write_helper(url, command, opts.git_config)
    ctx.io.info(f"git now asks only authcli (profile '{profile.name}') for {url}; in {where}:\n"
                f"  credential.{url}.helper =   (empty: drops the helpers configured before)\n"
                f"  credential.{url}.helper = {command}")
    return 0


def run(opts: GitCredentialOptions, ctx: Context) -> int:
    if opts.configure is not None:
        if opts.action is not None:
            raise UsageError("--configure sets git up and takes no action; git passes get, store or erase itself")
        return configure(ctx, opts)
    if opts.git_config is not None:
        raise UsageError("--git-config goes with --configure URL")
    if opts.action is None:
        raise UsageError("git-credential needs the action git passes (get, store or erase), or --configure URL")
    request = read_request(ctx.io.stdin)
    if opts.action not in ("get", "erase"):
        return 0  # store, and any operation a newer git may add: git asks helpers to ignore those
    profile = _requested_profile(ctx, opts, request)
    if profile is None:
        return 0  # not ours: git asks the next helper
    if profile.dpop:
        if opts.action == "get":
            # git sends a password as Basic or Bearer: a DPoP-bound token is useless that way.
            ctx.io.warn(f"profile '{profile.name}' holds DPoP-bound tokens, which git cannot present; no answer")
        return 0
    (get if opts.action == "get" else erase)(ctx, opts, profile, request)
    return 0
