"""authcli dev-server: the built-in reference API on loopback."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context
from ..errors import UsageError


@dataclass
class DevServerOptions:
    port: int = 0
    access_ttl: float = 60.0
    refresh_ttl: float = 86400.0
    clock_skew: float = 0.0
    refresh_delay: float = 0.0
    no_expires_in: bool = False
    token_style: str = "camel"
    tls_cert: str | None = None
    tls_key: str | None = None


def run(opts: DevServerOptions, ctx: Context) -> int:
    if not 0 <= opts.port <= 65535:
        raise UsageError("--port must be between 0 and 65535 (0 picks a free port)")
    if opts.access_ttl <= 0 or opts.refresh_ttl <= 0:
        raise UsageError("--access-ttl and --refresh-ttl must be positive")
    if opts.token_style not in ("camel", "snake"):
        raise UsageError("--token-style must be 'camel' or 'snake'")
    from ..devserver.server import serve
    from ..devserver.state import Settings

    settings = Settings(
        access_ttl=opts.access_ttl,
        refresh_ttl=opts.refresh_ttl,
        clock_skew=opts.clock_skew,
        refresh_delay=opts.refresh_delay,
        send_expires_in=not opts.no_expires_in,
        token_style=opts.token_style,
    )
    if (opts.tls_cert is None) != (opts.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    tls = (opts.tls_cert, opts.tls_key) if opts.tls_cert and opts.tls_key else None
    try:
        serve(opts.port, settings, out=ctx.io.stdout, tls=tls)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{opts.port}: {exc.strerror or exc}") from None
    return 0
