"""authcli exec: run a program with the API at hand and no real token in its environment.

By default a proxy (proxy.py) serves for the program's lifetime; the program gets the
proxy's URL and local secret in AUTHCLI_API_URL and AUTHCLI_API_TOKEN (or the names given),
and every request it sends through the proxy carries a token the engine keeps fresh.
`--token` instead exports a real access token and the API's own URL and replaces authcli
with the program: simpler, but the token goes stale if the program outlives it.

Either way authcli replaces itself with the program (sideproxy.py says why): the program is
the process the shell or supervisor started, every signal reaches it exactly once from the
kernel, and its exit status is the job's. The proxy serves beside it as a process of its own
and ends when the program has.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .. import sideproxy
from ..context import Context
from ..errors import UsageError
from ..pid1 import stay_as_init
from ..session import Session
from ..storagekey import child_environment

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class ExecOptions:
    command: list[str] = field(default_factory=list)
    profile: str | None = None
    url_env: str = "AUTHCLI_API_URL"
    token_env: str = "AUTHCLI_API_TOKEN"
    token: bool = False
    min_ttl: float = 0.0
    verbose: bool = False


def check(opts: ExecOptions) -> None:
    if not opts.command:
        raise UsageError("name the program to run: authcli exec -- COMMAND [ARGS...]")
    for flag, name in (("--url-env", opts.url_env), ("--token-env", opts.token_env)):
        if not _ENV_NAME.match(name):
            raise UsageError(f"{flag} {name!r} is not a variable name (letters, digits and _)")
    if opts.url_env == opts.token_env:
        raise UsageError("--url-env and --token-env must name different variables")
    if not (math.isfinite(opts.min_ttl) and opts.min_ttl >= 0):
        raise UsageError("--min-ttl must be a finite number of seconds, zero or more")
    if opts.min_ttl and not opts.token:
        raise UsageError("--min-ttl goes with --token (through the proxy every request gets a fresh token)")


def run(opts: ExecOptions, ctx: Context) -> int:
    check(opts)
    stay_as_init()  # as a container's PID 1 only: the program runs in a child (pid1.py)
    if opts.token:
        return _exec_with_token(opts, ctx)
    beside = sideproxy.start(ctx, opts.profile, opts.verbose)
    if isinstance(beside, int):
        return beside  # the proxy did not start, and has said why
    env = {**child_environment(ctx.env), opts.url_env: beside.url, opts.token_env: beside.secret}
    return sideproxy.become(opts.command, env, beside)


def _exec_with_token(opts: ExecOptions, ctx: Context) -> int:
    profile = ctx.profile(opts.profile)
    if profile.dpop:
        raise UsageError(f"profile '{profile.name}' holds DPoP-bound tokens, useless to a program without the "
                         "key: leave out --token, and the program goes through a proxy that signs for it")
    session = Session(ctx, profile)
    token = session.access_token(min_ttl=opts.min_ttl)
    assert profile.api_url is not None
    env = {**child_environment(ctx.env), opts.url_env: profile.api_url, opts.token_env: token}
    ctx.io.stdout.flush()
    ctx.io.stderr.flush()
    return sideproxy.become(opts.command, env)
