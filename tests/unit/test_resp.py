"""stores/redis_wire.py's replies, as a table: what it reads, and what sends the caller to redis-py."""

from __future__ import annotations

import io

import pytest

from authcli.errors import UseFullPath
from authcli.stores.redis_wire import _encode, _read, hget


@pytest.mark.parametrize(("wire", "value"), [
    (b"+OK\r\n", b"OK"),
    (b":42\r\n", 42),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),  # a bulk string may hold CR LF
])
def test_replies(wire: bytes, value: object) -> None:
    assert _read(io.BytesIO(wire)) == value


@pytest.mark.parametrize("wire", [
    b"-WRONGPASS invalid username-password pair\r\n",
    b"$10\r\nshort\r\n",
    b"+OK",  # no line end
    b"*1\r\n$1\r\nx\r\n",  # an array: not what HGET answers
    b"$99999999\r\n",  # larger than any record
])
def test_what_goes_to_redis_py(wire: bytes) -> None:
    with pytest.raises(UseFullPath):
        _read(io.BytesIO(wire))


def test_commands_are_length_prefixed() -> None:
    assert _encode(["HGET", "k", "välue"]) == b"*3\r\n$4\r\nHGET\r\n$1\r\nk\r\n$6\r\nv\xc3\xa4lue\r\n"


@pytest.mark.parametrize("url", ["redis://h:6379/0?ssl_cert_reqs=none", "redis://h/notanumber", "redis:///0"])
def test_urls_only_redis_py_reads(url: str) -> None:
    with pytest.raises(UseFullPath):
        hget(url, None, "k", "f")
