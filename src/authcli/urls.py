"""API URL rules: https only (http for loopback), and what an origin is."""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import UsageError


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(url: str) -> str:
    """Return the normalised API base URL, or raise UsageError saying what is wrong."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid API URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid API URL {url!r}: expected https://host[/path]")
    if parts.username or parts.password:
        raise UsageError("the API URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise UsageError(f"invalid API URL {url!r}: no query or fragment allowed")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"refusing http:// for {parts.hostname}: tokens would travel in clear text; use https:// "
            "(plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"
        )
    del port
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
