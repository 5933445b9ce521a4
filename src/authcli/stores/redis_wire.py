"""The one Redis read on authcli's hot path (HGET), without importing redis-py.

`import redis` costs ~130 ms on the project's machine (its asyncio client comes with the
package): twice a whole `authcli token` on the file store. A valid token needs one HGET, so
this speaks just enough RESP2 for it (AUTH, SELECT, HGET, pipelined) over a plain or TLS
socket. Anything unusual (options in the URL, an error reply, a reply it does not expect)
raises UseFullPath and the caller goes through redis-py instead, which words the error.
"""

from __future__ import annotations

import socket
from typing import IO
from urllib.parse import unquote, urlsplit

from ..errors import UseFullPath

MAX_REPLY = 1024 * 1024


def hget(url: str, password: str | None, key: str, field: str, timeout: float = 5.0) -> bytes | None:
    parts = urlsplit(url)
    if parts.query or parts.fragment or not parts.hostname:
        raise UseFullPath("the URL has options only redis-py reads")
    try:
        db = int(parts.path.strip("/") or 0)
    except ValueError:
        raise UseFullPath("not a database number") from None
    commands: list[list[str]] = []
    password = password or (unquote(parts.password) if parts.password else None)
    if password:
        commands.append(["AUTH", unquote(parts.username), password] if parts.username else ["AUTH", password])
    if db:
        commands.append(["SELECT", str(db)])
    commands.append(["HGET", key, field])
    sock = socket.create_connection((parts.hostname, parts.port or 6379), timeout=timeout)
    try:
        if parts.scheme == "rediss":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        sock.sendall(b"".join(_encode(command) for command in commands))
        with sock.makefile("rb") as reader:
            replies = [_read(reader) for _ in commands]
    finally:
        sock.close()
    last = replies[-1]
    if last is not None and not isinstance(last, bytes):
        raise UseFullPath("HGET answered something else than a string")
    return last


def _encode(args: list[str]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read(reader: IO[bytes]) -> bytes | int | None:
    line = reader.readline(65536)
    if not line.endswith(b"\r\n"):
        raise UseFullPath("a short reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise UseFullPath(rest.decode("utf-8", "replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        if size > MAX_REPLY:
            raise UseFullPath("a reply larger than any record")
        data = reader.read(size + 2)
        if len(data) != size + 2:
            raise UseFullPath("a short reply")
        return data[:-2]
    raise UseFullPath(f"an unexpected reply {kind!r}")
