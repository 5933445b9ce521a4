"""authcli refresh: refresh now (single-flight, like every refresh)."""

from __future__ import annotations

from dataclasses import dataclass

from ..claims import humanize
from ..context import Context
from ..session import Session


@dataclass
class RefreshOptions:
    profile: str | None = None


def run(opts: RefreshOptions, ctx: Context) -> int:
    record = Session(ctx, ctx.profile(opts.profile)).refresh_now()
    left = record.seconds_left(ctx.clock())
    when = "with an unknown expiry" if left is None else f"expiring {humanize(left)}"
    ctx.io.info(f"Refreshed: new access token {when}.")
    return 0
