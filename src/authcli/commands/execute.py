"""authcli exec: run a program with the API at hand and no real token in its environment.

By default a proxy (proxy.py) serves for the program's lifetime; the program gets the
proxy's URL and local secret in AUTHCLI_API_URL and AUTHCLI_API_TOKEN (or the names given),
and every request it sends through the proxy carries a token the engine keeps fresh.
`--token` instead exports a real access token and the API's own URL and replaces authcli
with the program: simpler, but the token goes stale if the program outlives it.

The program's exit status is authcli's (128+N when a signal N ended it). It runs in a
process group of its own, holding the terminal, and every signal authcli can catch is
passed on to it once, whoever sent it (mainloop.py, jobcontrol.py): authcli does not die of
one while the program runs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..context import Context
from ..errors import ExitCode, ProgramNotExecutable, ProgramNotFound, UsageError
from ..jobcontrol import Terminal
from ..mainloop import MainLoop
from ..proxy import running
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
    if opts.token:
        return _exec_with_token(opts, ctx)
    loop = MainLoop(child=True)
    terminal = Terminal.open()
    try:
        with running(ctx, opts.profile, loop, quiet=not opts.verbose) as proxy:
            env = {**child_environment(ctx.env), opts.url_env: proxy.public_url, opts.token_env: proxy.secret.decode()}
            pid = _spawn(opts.command, env, loop)
            status = loop.supervise(pid, terminal)
    finally:
        loop.close()
        if terminal is not None:
            terminal.close()
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


@contextmanager
def _starting(program: str) -> Iterator[None]:
    """An OSError from starting ``program`` as a shell would word it, with the shells' codes."""
    try:
        yield
    except FileNotFoundError:
        raise ProgramNotFound(f"{program}: command not found") from None
    except OSError as exc:
        raise ProgramNotExecutable(f"cannot run {program}: {exc.strerror or exc}") from None


def _spawn(command: list[str], env: dict[str, str], loop: MainLoop) -> int:
    # The child starts in a process group of its own (mainloop.py says why), with default
    # dispositions for what authcli ignores and Python ignores (SIGPIPE, SIGXFSZ), as if a
    # shell had started it; what authcli handles is at its default after exec anyway.
    with _starting(command[0]):
        return os.posix_spawnp(command[0], command, env, setpgroup=0, setsigdef=loop.child_defaults)


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
    with _starting(opts.command[0]):
        os.execvpe(opts.command[0], opts.command, env)
    return int(ExitCode.ERROR)  # not reached: execvpe replaced this process
