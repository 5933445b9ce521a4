"""The HTTP client's side of deadline.py: network streams that give each connect, read and
write only the time left before the current thread's deadline, and raise the deadline's
error once it has passed. Wrapped around httpcore's own backend (composition: the proxy's
quick-ACK streams wrap these in turn)."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from .deadline import expired_error, remaining


def bounded(timeout: float | None) -> float | None:
    """``timeout``, shortened to the deadline's time left; the deadline's error when none is left."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise expired_error()
    return left if timeout is None else min(timeout, left)


def _passed() -> bool:
    left = remaining()
    return left is not None and left <= 0.001


def bound_to_deadlines(client: httpx.Client) -> httpx.Client:
    """Every transport ``client`` holds (its own, env proxies' mounts) under deadline.py.

    httpx has no public way to wrap the streams of the transports it builds, so this reaches
    for each connection pool's backend (pinned httpx: see pyproject.toml); tests/integration/
    test_hostile_server.py fails if that ever stops working."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        bind(transport)
    return client


def bind(transport: object) -> None:
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, DeadlineBackend):
        pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        with _translated():
            return DeadlineStream(self._inner.connect_tcp(host, port, bounded(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        with _translated():
            return DeadlineStream(self._inner.connect_unix_socket(path, bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _translated():
            return self._inner.read(max_bytes, bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _translated():
            self._inner.write(buffer, bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        with _translated():
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _translated:
    """A timeout that came from the deadline is the deadline's error, not a read timeout."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, httpcore.TimeoutException) and _passed():
            raise expired_error() from None
