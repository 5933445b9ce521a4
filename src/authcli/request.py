"""Turning `authcli call`'s arguments into a request: URL, headers, query and body.

Pure functions (plus opening the files the user named), so every refusal can be tested
without a server.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from .errors import UsageError
from .termsafe import has_control, printable
from .urls import join, origin_str, parse_url

CHUNK = 64 * 1024
_METHOD = re.compile(r"^[A-Za-z]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}


def check_utf8(value: str, what: str) -> str:
    """``value`` from argv, unless it held bytes that are not UTF-8 (Python hands those over as
    lone surrogates, which no request can carry): UsageError naming the argument."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
        raise UsageError(f"the {what} '{shown}' is not valid UTF-8; percent-encode those bytes (e.g. %FF)") from None
    return value


def resolve_url(api_url: str, path: str) -> str:
    """PATH relative to the API, or an absolute URL on the API's own origin only."""
    check_utf8(path, "PATH argument")
    if has_control(path):
        raise UsageError(f"invalid path '{printable(path)}': it contains control characters (a tab, a line "
                         "break...)")
    try:
        parts = urlsplit(path)
    except ValueError as exc:
        raise UsageError(f"invalid URL {path!r}: {exc}") from None
    if parts.scheme or path.startswith("//"):
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"invalid URL {path!r}")
        parse_url(path, "URL")
        if origin_str(path) != origin_str(api_url):
            raise UsageError(
                f"refusing to call {origin_str(path)}: the session's token belongs to {origin_str(api_url)}; "
                "use a path relative to the API"
            )
        return path
    return join(api_url, path)


def split_method_path(first: str, second: str | None) -> tuple[str | None, str]:
    if second is None:
        return None, first
    if not _METHOD.match(first):
        raise UsageError(f"invalid HTTP method {first!r}")
    return first.upper(), second


def parse_headers(values: list[str]) -> list[tuple[str, str]]:
    headers = []
    for raw in values:
        if "\r" in raw or "\n" in raw:
            raise UsageError("a header must not contain a line break (CR or LF)")
        name, sep, value = raw.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not _HEADER_NAME.match(name):
            raise UsageError(f"invalid header {raw!r}: expected 'Name: value'")
        if not value.isascii() or has_control(value):
            raise UsageError(f"invalid header {name}: the value must be printable ASCII "
                             "(percent-encode it, or use the API's own encoding)")
        if name.lower() in ("authorization", "proxy-authorization"):
            raise UsageError(f"refusing the {name} header: authcli attaches the session's token itself")
        headers.append((name, value))
    return headers


def parse_query(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for raw in values:
        key, sep, value = check_utf8(raw, "query parameter").partition("=")
        if not sep or not key:
            raise UsageError(f"invalid query parameter {raw!r}: expected key=value")
        pairs.append((key, value))
    return pairs


def _typed(value: str) -> Any:
    if value in ("true", "false", "null"):
        return json.loads(value)
    if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", value):
        return json.loads(value)
    return value


def parse_fields(values: list[str], read_file: Callable[[str], str]) -> dict[str, Any]:
    """-f key=value (typed), key=@FILE (the file as a string), key:=JSON (raw JSON)."""
    body: dict[str, Any] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key or key == ":":
            raise UsageError(f"invalid field {raw!r}: expected key=value or key:=JSON")
        if key.endswith(":"):
            try:
                body[key[:-1]] = json.loads(value)
            except ValueError as exc:
                raise UsageError(f"field {key[:-1]!r}: invalid JSON ({exc})") from None
        elif value.startswith("@"):
            body[key] = read_file(value[1:])
        else:
            body[key] = _typed(value)
    return body


@dataclass
class Body:
    """A request body: bytes in memory, a file re-read on each attempt, stdin spooled (so it
    has a length and can be sent again), or stdin streamed once (chunked)."""

    data: bytes | None = None
    path: str | None = None
    spool: IO[bytes] | None = None
    stream: IO[bytes] | None = None
    content_type: str | None = None
    size: int | None = None
    progress: Callable[[int], None] | None = field(default=None, repr=False)

    @property
    def replayable(self) -> bool:
        return self.stream is None

    def content(self) -> bytes | Iterable[bytes] | None:
        if self.data is not None:
            return self.data
        if self.path is not None:
            return _FileChunks(self)
        if self.spool is not None:
            return _SpoolChunks(self)
        if self.stream is not None:
            return _chunks(self.stream, self.progress)
        return None


class _FileChunks:
    """Re-iterable: each iteration opens the file again, so a 401 or a 307 can replay the
    upload without ever holding the file in memory (httpx re-iterates a non-generator)."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        assert self.body.path is not None
        with open(self.body.path, "rb") as source:
            yield from _chunks(source, self.body.progress)


class _SpoolChunks:
    """Re-iterable like _FileChunks, from the start of the spooled copy of stdin."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        assert self.body.spool is not None
        self.body.spool.seek(0)
        yield from _chunks(self.body.spool, self.body.progress)


SPOOL_IN_MEMORY = 4 * 1024 * 1024  # bytes of stdin kept in memory before a 0600 temp file takes over


def spool(stdin: IO[bytes]) -> Body:
    """Read stdin to its end, as curl's -d @- and HTTPie do: the body then has a
    Content-Length (which servers under WSGI and many gateways need) and can be replayed."""
    import tempfile

    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - lives as long as the body
    size = 0
    while chunk := stdin.read(CHUNK):
        copy.write(chunk)
        size += len(chunk)
    return Body(spool=copy, size=size)


def _chunks(source: IO[bytes], progress: Callable[[int], None] | None) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        if progress:
            progress(len(chunk))
        yield chunk


def read_text_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; send binary files with --data @{path}") from None


def make_body(data: str | None, fields: list[str], stdin: IO[bytes], chunked: bool = False) -> Body | None:
    if data is not None and fields:
        raise UsageError("use --data or --field, not both")
    if fields:
        payload = json.dumps(parse_fields(fields, read_text_file)).encode()
        return Body(data=payload, content_type="application/json", size=len(payload))
    if data is None:
        return None
    if chunked and data != "@-":
        raise UsageError("--chunked is for --data @- (stdin streamed as it comes)")
    if data == "@-":
        return Body(stream=stdin) if chunked else spool(stdin)
    if data.startswith("@"):
        path = data[1:]
        try:
            size = os.path.getsize(path)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read {path}: permission denied")
        return Body(path=path, size=size)
    raw = data.encode()
    return Body(data=raw, size=len(raw))
