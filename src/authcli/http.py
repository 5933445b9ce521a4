"""Building the HTTP client and translating httpx's exceptions into authcli's.

Imported only by code that is about to use the network: httpx is the most expensive
import authcli has, and the valid-token path never needs it.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

import httpx

from . import __version__
from .errors import NetworkError, UsageError

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
    timeout: float | None = None,
    cacert: str | None = None,
) -> httpx.Client:
    """A client that follows no redirect by itself (the caller decides where a token may go)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout or profile.timeout),
        verify=_verify(profile, env, cacert),
        follow_redirects=False,
        trust_env=True,
        headers={"User-Agent": USER_AGENT},
    )


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
            return " ".join(value.split())[:200]
    return None
