"""authcli token: print a valid access token for tools that insist on one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..context import Context
from ..errors import UsageError
from ..session import Session


@dataclass
class TokenOptions:
    profile: str | None = None
    min_ttl: float = 0.0


def options(profile: str | None, min_ttl: float) -> TokenOptions:
    """From the command line's parameters (cli.py's and main.py's fast path alike)."""
    return TokenOptions(profile, min_ttl)


def run(opts: TokenOptions, ctx: Context) -> int:
    if not (math.isfinite(opts.min_ttl) and opts.min_ttl >= 0):
        raise UsageError("--min-ttl must be a finite number of seconds, zero or more")
    token = Session(ctx, ctx.profile(opts.profile)).access_token(min_ttl=opts.min_ttl)
    ctx.io.write_out(token + "\n")
    return 0
