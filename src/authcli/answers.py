"""Reading an auth endpoint's answer (login, token, device, discovery, userinfo, revocation):
one exchange within its deadline, the body decoded to at most 1 MiB with flat memory, then
read as JSON and for a one-line message. (http.py builds the clients and translates httpx's
exceptions; `authcli call` streams its answers instead, transfer.py and output.py.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .errors import NetworkError
from .http import host_port, make_client, within

if TYPE_CHECKING:
    from .config import Profile

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
            from .termsafe import printable

            return printable(" ".join(value.split())[:200])
    return None
