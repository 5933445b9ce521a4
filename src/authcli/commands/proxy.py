"""authcli proxy: serve the profile's API on loopback, the session's token attached.

Prints the proxy's URL (and the local secret, unless --secret-file) on stdout once it
serves, one line per request on stderr, and stops cleanly on SIGINT, SIGTERM or SIGHUP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import check_seconds
from ..context import Context
from ..errors import UsageError
from ..mainthread import MainLoop
from ..oscalls import require_unix_sockets
from ..proxy import running


@dataclass
class ProxyOptions:
    profile: str | None = None
    port: int | None = None
    socket: str | None = None
    secret_file: str | None = None
    quiet: bool = False
    timeout: float = 300.0
    exit_with: int | None = None  # `authcli exec`'s proxy (sideproxy.py): serve until that process has gone


def check(opts: ProxyOptions) -> None:
    if opts.port is not None and not 0 <= opts.port <= 65535:
        raise UsageError("--port must be between 0 and 65535 (0 picks a free one)")
    if opts.port is not None and opts.socket is not None:
        raise UsageError("use --port or --socket, not both")
    if opts.socket is not None:
        require_unix_sockets("--socket")
    check_seconds(opts.timeout, "--timeout")
    if opts.exit_with is not None and (opts.port is not None or opts.socket or opts.secret_file):
        raise UsageError("--exit-with (for authcli exec) goes without --port, --socket and --secret-file")


def run(opts: ProxyOptions, ctx: Context) -> int:
    check(opts)
    if opts.exit_with is not None:
        from ..sideproxy import serve

        return serve(ctx, opts.profile, opts.exit_with, opts.quiet, opts.timeout)
    secret_file = Path(opts.secret_file) if opts.secret_file else None
    loop = MainLoop()
    try:
        with running(ctx, opts.profile, loop, opts.port, opts.socket, opts.quiet, opts.timeout) as proxy:
            if secret_file is not None:
                _write_secret(secret_file, proxy.secret.decode())
            try:
                where = f"unix socket {opts.socket}" if opts.socket else proxy.public_url
                ctx.io.info(f"authcli: proxy for {proxy.api_url} on {where}; stop it with Ctrl-C")
                ctx.io.write_out(proxy.public_url + "\n" + ("" if secret_file else proxy.secret.decode() + "\n"))
                loop.run()
            finally:
                if secret_file is not None:
                    secret_file.unlink(missing_ok=True)
    finally:
        loop.close()
    return 0


def _write_secret(path: Path, secret: str) -> None:
    """0600 from the first byte (atomic_write creates it so); the directory must exist."""
    from ..fsutil import atomic_write

    if not path.parent.is_dir():
        raise UsageError(f"--secret-file: directory {path.parent} does not exist")
    try:
        atomic_write(path, secret.encode() + b"\n")
    except OSError as exc:
        raise UsageError(f"cannot write --secret-file {path}: {exc.strerror or exc}") from None
