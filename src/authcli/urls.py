"""API URL rules: https only (http for loopback), and what an origin is."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from .errors import UsageError
from .termsafe import has_control, printable

_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str | None:
    """What is wrong with ``host`` (a URL's host name or address), or None."""
    if host.startswith("[") or ":" in host:
        try:
            ipaddress.ip_address(host.strip("[]").split("%")[0])
        except ValueError:
            return "not a valid IPv6 address"
        return None
    labels = host.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(host.rstrip("."))
        except ValueError:
            return "not a valid IPv4 address"
        return None
    if len(host) > 253:
        return "the host name is longer than 253 characters"
    for label in labels:
        if not label:
            return "the host name has an empty label"
        try:
            ascii_label = label if label.isascii() else label.encode("idna").decode("ascii")
        except UnicodeError:
            return f"the host name label {label!r} is not valid"
        if len(ascii_label) > 63:
            return "a host name label is longer than 63 characters"
        if not _LABEL.match(ascii_label):
            return "the host name has characters a host name cannot have"
    return None


def parse_url(url: str, what: str) -> SplitResult:
    """``url`` split, or UsageError when it is not a URL authcli could send a request to."""
    if has_control(url):
        raise UsageError(f"invalid {what}: it contains control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise UsageError(f"invalid {what} {printable(url)!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid {what} {url!r}: expected https://host[/path]")
    problem = check_host(parts.hostname)
    if problem:
        raise UsageError(f"invalid {what} {url!r}: {problem}")
    return parts


def check_api_url(url: str) -> str:
    """Return the normalised API base URL, or raise UsageError saying what is wrong."""
    url = url.strip()
    parts = parse_url(url, "API URL")
    assert parts.hostname
    if parts.username or parts.password:
        raise UsageError("the API URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise UsageError(f"invalid API URL {url!r}: no query or fragment allowed")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"refusing http:// for {parts.hostname}: tokens would travel in clear text; use https:// "
            "(plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"
        )
    return url.rstrip("/")


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def join(base: str, path: str) -> str:
    """Join the API base URL and a path given relative to it."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def origin_str(url: str) -> str:
    scheme, host, port = origin(url)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
