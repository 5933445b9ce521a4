"""Quick ACKs on the proxy's kept-alive connections to the API (Linux).

An API server that keeps Nagle's algorithm on (Python's http.server, Werkzeug's dev server)
writes a response's head and body as two small segments and holds the second back until the
first is acknowledged. Once a connection looks interactive, Linux delays that ACK (up to
40 ms) hoping to piggyback it on the next request, so every request through a kept-alive
connection stalls. TCP_QUICKACK sends a pending ACK at once, but the kernel goes back to
delaying by itself, so it is set again after every read from the API.

Elsewhere there is no TCP_QUICKACK and the client's streams are left as they are.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def quick_acks(client: httpx.Client) -> None:
    """Make ``client``'s own transport (the API's, unless a mount takes the URL) ACK at once.

    httpx has no public way to wrap the streams of a client it built, so this reaches for
    its connection pool's backend; when that is not where this httpx keeps it, nothing changes."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if QUICKACK is not None and isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, timeout)
        if self._sock is not None and QUICKACK is not None:
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            except OSError:
                self._sock = None  # closed meanwhile, or not TCP after all
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # The TLS stream reads the same socket: it keeps the quick ACKs.
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
