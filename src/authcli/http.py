"""Building the HTTP client and translating httpx's exceptions into authcli's.

Imported only by code that is about to use the network: httpx is the most expensive
import authcli has, and the valid-token path never needs it.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from . import __version__
from .errors import NetworkError, UsageError
from .urls import is_loopback

if TYPE_CHECKING:
    from .config import Profile

USER_AGENT = f"authcli/{__version__}"


def _verify(profile: Profile, env: Mapping[str, str], cacert: str | None) -> ssl.SSLContext | bool:
    bundle = cacert or profile.ca_bundle or env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    if not bundle:
        return True
    if not os.path.isfile(bundle):
        raise UsageError(f"CA bundle {bundle} does not exist")
    try:
        return ssl.create_default_context(cafile=bundle)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"cannot load CA bundle {bundle}: {exc}") from None


def make_client(
    profile: Profile,
    env: Mapping[str, str],
    target: str,
    timeout: float | None = None,
    cacert: str | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.Client:
    """A client that follows no redirect by itself (the caller decides where a token may go).

    A loopback ``target`` never goes through HTTP_PROXY/HTTPS_PROXY/ALL_PROXY: plain http is
    allowed there only because the traffic never leaves the machine. An http:// target needs
    no TLS, so the CA bundle (~20 ms to load) is loaded only if a hop goes to https."""
    verify = _verify(profile, env, cacert)
    parts = urlsplit(target)
    loopback = is_loopback(parts.hostname or "")
    mounts: dict[str, httpx.BaseTransport] | None = None
    if parts.scheme == "http" and loopback and verify is True:
        mounts = {"https://": _LazyTransport(lambda: _bound(httpx.HTTPTransport(verify=True, trust_env=False)))}
        verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # for http:// never used; verifies all the same
    from .netdeadline import bound_to_deadlines

    return bound_to_deadlines(httpx.Client(
        timeout=httpx.Timeout(timeout or profile.timeout),
        verify=verify,
        follow_redirects=False,
        trust_env=not loopback,
        headers={"User-Agent": USER_AGENT},
        mounts=mounts,
        limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
    ))


def _bound(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    from .netdeadline import bind

    bind(transport)
    return transport


class _LazyTransport(httpx.BaseTransport):
    """A transport built on first use."""

    def __init__(self, build: Callable[[], httpx.BaseTransport]) -> None:
        self._build = build
        self._transport: httpx.BaseTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = self._build()
        return self._transport.handle_request(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange took longer than the timeout (see deadline.py)."""

    def __init__(self) -> None:
        super().__init__("no complete answer in time")


def within(seconds: float) -> AbstractContextManager[None]:
    """The deadline for one exchange: a httpx timeout when it expires."""
    from .deadline import deadline

    return deadline(seconds, DeadlineExceeded)


def host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def translate(exc: httpx.HTTPError, url: str, timeout: float | None = None) -> NetworkError:
    where = host_port(url)
    if isinstance(exc, httpx.TimeoutException):
        after = f" after {timeout:g}s" if timeout else ""
        return NetworkError(f"{where} timed out{after}; try again, or raise AUTHCLI_TIMEOUT")
    if isinstance(exc, httpx.ConnectError):
        cause = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in cause or "certificate verify failed" in cause:
            return NetworkError(
                f"TLS certificate verification failed for {where}; pass --cacert or set the profile's ca_bundle"
            )
        if "refused" in cause.lower():
            cause = "connection refused"
        return NetworkError(f"cannot reach {where} ({cause}); check the URL and that the server is running")
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(f"{where} closed the connection without a valid answer; try again")
    return NetworkError(f"network error talking to {where}: {type(exc).__name__}: {exc}")
