"""docker-credential-authcli: Docker's credential-helper protocol, so `docker pull` and
`docker push` authenticate to a registry with the session of the profile it belongs to.

Docker runs `docker-credential-authcli ACTION` with the request on stdin:

- `get`: the registry's server URL (`registry.example.com`, `https://registry.example.com/v2/`).
  authcli answers `{"ServerURL", "Username", "Secret"}` with a valid access token from the
  engine, for the profile whose `registry` origin (config.toml), else whose API origin, is the
  registry's; for any other registry it answers Docker's "credentials not found" (stdout,
  exit 1), so a token only ever goes to its own origin. The user name is the profile's
  `registry_username`, else the session's email, user name or subject.
- `store` (JSON from `docker login`) and `erase` (a server URL): read and accepted without
  changing anything; the session lives in authcli's store.
- `list`: `{server URL: user name}` for every profile, by its registry (else API) origin.

Errors follow the protocol (the message on stdout, where Docker shows it) and authcli's own
convention (one `authcli: ...` line on stderr, the documented exit code).
"""

from __future__ import annotations

import json
import sys
from typing import IO

from ..config import Profile
from ..context import Context
from ..errors import AuthcliError, UsageError
from ..session import Session
from ..urls import origin_str

NOT_FOUND = "credentials not found in native keychain"  # what Docker's client recognises
ACTIONS = ("get", "store", "erase", "list")


def registry_origins(server_url: str) -> set[str]:
    """The origins what Docker names a registry by (a host, host:port, or a URL) can mean:
    https when no scheme is given, as Docker assumes, and http too on loopback, which Docker
    lets a registry speak."""
    from urllib.parse import urlsplit

    from ..urls import is_loopback

    text = server_url.strip()
    if not text or any(ord(c) < 0x21 or c == "\x7f" for c in text):
        return set()
    schemes = [""] if "://" in text else ["https://", "http://"]
    found = set()
    for scheme in schemes:
        try:
            host = urlsplit(scheme + text).hostname or ""
            if scheme == "http://" and not is_loopback(host):
                continue
            found.add(origin_str(scheme + text))
        except ValueError:
            continue
    return found


def profile_origin(profile: Profile) -> str | None:
    url = profile.registry or profile.api_url
    if not url:
        return None
    origins = registry_origins(url if "://" in url else "https://" + url)
    return next(iter(origins), None)


def _profile_for(ctx: Context, wanted: set[str]) -> Profile | None:
    """The current profile if its origin is one ``wanted``, else the first such profile by name."""
    config = ctx.config
    names = sorted(name for name, p in config.profiles.items() if profile_origin(p) in wanted)
    current = config.default_name(ctx.env)
    name = current if current in names else (names[0] if names else None)
    return None if name is None else ctx.profile(name)


def get(ctx: Context, stdin: IO[str]) -> tuple[int, str]:
    server_url = stdin.read(4096).strip()
    wanted = registry_origins(server_url)
    profile = _profile_for(ctx, wanted) if wanted else None
    if profile is None:
        return 1, NOT_FOUND + "\n"
    from .git_credential import session_username

    session = Session(ctx, profile)
    record = session.valid_record()
    if record.dpop_key:
        raise UsageError(f"profile '{profile.name}' holds DPoP-bound tokens, which Docker cannot present")
    user = profile.registry_username or session_username(record)
    return 0, json.dumps({"ServerURL": server_url, "Username": user, "Secret": record.access_token}) + "\n"


def listing(ctx: Context) -> str:
    found: dict[str, str] = {}
    for profile in ctx.config.profiles.values():
        origin = profile_origin(profile)
        if origin is not None:
            found.setdefault(origin, profile.registry_username or profile.name)
    return json.dumps(found) + "\n"


def run(action: str, ctx: Context) -> int:
    if action == "get":
        code, out = get(ctx, ctx.io.stdin)
        ctx.io.write_out(out)
        return code
    if action in ("store", "erase"):
        ctx.io.stdin.read(1024 * 1024)  # accepted; the session is authcli's, not Docker's
        return 0
    if action == "list":
        ctx.io.write_out(listing(ctx))
        return 0
    raise UsageError(f"unknown action {action!r}: Docker sends get, store, erase or list")


def main(argv: list[str] | None = None) -> int:
    """The console script docker-credential-authcli (Docker finds it on PATH by its name)."""
    import os

    from ..iostreams import IOStreams
    from ..termsafe import printable

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("authcli: usage: docker-credential-authcli get|store|erase|list (Docker runs it)\n")
        return 2
    try:
        return run(args[0], Context(io=IOStreams.system()))
    except AuthcliError as exc:
        code, line = int(exc.exit_code), f"authcli: {printable(exc.message)}"
    except KeyboardInterrupt:
        code, line = 130, "authcli: interrupted"
    except Exception as exc:  # the last line of defence, as main.py's
        if os.environ.get("AUTHCLI_DEBUG") == "1":
            raise
        code, line = 1, f"authcli: unexpected error ({type(exc).__name__}: {printable(str(exc))})"
    sys.stdout.write(line + "\n")  # where Docker shows a helper's error
    sys.stderr.write(line + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
