"""What the proxy checks in a request's head before anything is forwarded.

Framing (RFC 9112 6): the proxy and the API must agree on where each request ends, or bytes
the proxy took for a body reach the API as a request of their own (request smuggling) on a
connection other clients' requests share. So only one framing is accepted: no body, a
Content-Length that is digits, or Transfer-Encoding whose only coding is chunked, never both.
Header names must be tokens ("Transfer-Encoding : chunked" is not a header the proxy will
guess at), and there is one Host.

The path (RFC 3986 5.2.4): a request's path is relative to the API URL's path, and must stay
under it once dot segments are removed, whatever percent-decoding a server behind does.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import NamedTuple
from urllib.parse import unquote

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")
_SEPARATOR = re.compile(r"[/\\]")  # some servers take a backslash for a slash
DECODE_ROUNDS = 4


class Refusal(NamedTuple):
    status: int
    error: str
    message: str


def framing_problem(headers: Message, version: str) -> Refusal | None:
    """Why the request's head is not one the proxy can frame unambiguously, or None."""
    if headers.defects or any(not _TOKEN.fullmatch(name) for name in headers):
        return Refusal(400, "bad_request", "a header line is malformed (a field name must be a token "
                       "followed directly by a colon)")
    if len(headers.get_all("Host") or []) > 1:
        return Refusal(400, "bad_request", "more than one Host header")
    codings = [coding.strip().lower() for value in headers.get_all("Transfer-Encoding") or []
               for coding in value.split(",")]
    lengths = headers.get_all("Content-Length") or []
    if codings:
        if lengths:
            return Refusal(400, "bad_request", "Transfer-Encoding and Content-Length together; send one")
        if version == "HTTP/1.0":
            return Refusal(400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request")
        if codings[-1] != "chunked" or codings.count("chunked") > 1:
            return Refusal(400, "bad_request", "the final transfer coding must be chunked, applied once")
        if codings != ["chunked"]:
            return Refusal(501, "not_implemented", "no transfer coding but chunked is supported")
    elif lengths and (len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0].strip())):
        return Refusal(400, "bad_request", "the Content-Length header is not one number of bytes")
    return None


def climbs_out(target: str) -> bool:
    """Whether the path of ``target`` (a path, maybe with a query) leaves its root once dot
    segments are removed, at any depth of percent-decoding; a path still encoded after
    DECODE_ROUNDS decodings counts as leaving."""
    path = "/" + target.split("?", 1)[0].lstrip("/")  # as urls.join appends it to the API URL
    for _ in range(DECODE_ROUNDS):
        if _climbs(path):
            return True
        decoded = unquote(path)
        if decoded == path:
            return False
        path = decoded
    return True


def _climbs(path: str) -> bool:
    depth = 0
    for segment in _SEPARATOR.split(path)[1:]:
        segment = segment.split(";", 1)[0]  # "..;" is ".." to some servers
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment != ".":
            depth += 1
    return False
