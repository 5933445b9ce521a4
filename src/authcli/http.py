"""Building the HTTP client and translating httpx's exceptions into authcli's.

Imported only by code that is about to use the network: httpx is the most expensive
import authcli has, and the valid-token path never needs it.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
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


MAX_AUTH_ANSWER = 1024 * 1024  # bytes, after decompression


class AnswerTooLarge(NetworkError):
    """An auth endpoint's answer over MAX_AUTH_ANSWER: no token answer is that big."""


def fetch(profile: Profile, env: Mapping[str, str], method: str, url: str, *, timeout: float | None = None,
          auth: httpx.Auth | None = None, **request: Any) -> httpx.Response:
    """One exchange with an auth endpoint (login, token, device, discovery, userinfo,
    revocation): done within the timeout as a whole, the answer read and decoded to at most
    1 MiB with flat memory. Raises httpx.HTTPError (translate() it) or AnswerTooLarge."""
    seconds = timeout or profile.timeout
    with within(seconds), make_client(profile, env, url, timeout=seconds) as client:
        sent = client.build_request(method, url, **request)
        sent.headers["Accept-Encoding"] = "gzip, deflate"  # the encodings read_capped decodes
        response = client.send(sent, auth=auth, stream=True)
        try:
            body = read_capped(response, url)
        finally:
            response.close()
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request,
                          extensions=response.extensions)


def read_capped(response: httpx.Response, url: str, cap: int = MAX_AUTH_ANSWER) -> bytes:
    """The decoded body, refused as soon as it grows past ``cap``: a 2 MB gzip answer that
    inflates to 2 GiB is stopped after ``cap`` bytes, never inflated whole."""
    import zlib

    too_large = AnswerTooLarge(
        f"{host_port(url)} sent an answer larger than {cap // 1024} KiB, which no token answer is; refused"
    )
    length = response.headers.get("content-length", "")
    coding = response.headers.get("content-encoding", "identity").strip().lower()
    if coding in ("", "identity") and length.isdigit() and int(length) > cap:
        raise too_large
    if coding in ("gzip", "x-gzip"):
        decoder: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif coding == "deflate":
        decoder = zlib.decompressobj()
    elif coding in ("", "identity"):
        decoder = None
    else:
        raise NetworkError(f"{host_port(url)} answered with content-encoding {coding!r}, which authcli does not accept")
    out = bytearray()
    for chunk in response.iter_raw(16 * 1024):
        if decoder is None:
            out += chunk
        else:
            try:
                while chunk:
                    out += decoder.decompress(chunk, cap + 1 - len(out))
                    if len(out) > cap:
                        break
                    chunk = decoder.unconsumed_tail
            except zlib.error:
                raise NetworkError(f"{host_port(url)} sent a corrupt {coding} answer") from None
        if len(out) > cap:
            raise too_large
    return bytes(out)


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


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def describe_body(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "no content type").split(";")[0].strip()
    return f"{kind}, {len(response.content)} bytes"


def server_message(data: Any) -> str | None:
    """A short, single-line message from an error body, if it has one."""
    if not isinstance(data, dict):
        return None
    for key in ("message", "error_description", "error", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            from .text import printable

            return printable(" ".join(value.split())[:200])
    return None
