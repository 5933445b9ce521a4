from __future__ import annotations

import pytest

from authcli.errors import UsageError
from authcli.urls import check_api_url, is_loopback, origin_str

ACCEPTED = [
    ("https://api.example.com", "https://api.example.com"),
    ("https://api.example.com/v1/", "https://api.example.com/v1"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    ("http://127.5.6.7", "http://127.5.6.7"),
    ("http://[::1]:8080", "http://[::1]:8080"),
]
REFUSED = [
    ("http://api.example.com", "refusing http://"),
    ("http://10.0.0.1", "refusing http://"),
    ("http://localhost.evil.com", "refusing http://"),
    ("ftp://api.example.com", "expected https://"),
    ("api.example.com", "expected https://"),
    ("https://user:pw@api.example.com", "user name or password"),
    ("https://api.example.com/?a=1", "no query"),
    ("https://api.example.com:99999", "invalid API URL"),
]


@pytest.mark.parametrize(("url", "normalised"), ACCEPTED)
def test_accepted(url: str, normalised: str) -> None:
    assert check_api_url(url) == normalised


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_refused(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("?", r"\?")):
        check_api_url(url)


@pytest.mark.parametrize(
    ("url", "origin"),
    [("https://A.example.com/x", "https://a.example.com:443"), ("http://127.0.0.1/", "http://127.0.0.1:80"),
     ("http://[::1]:81/p", "http://[::1]:81")],
)
def test_origin(url: str, origin: str) -> None:
    assert origin_str(url) == origin


def test_loopback() -> None:
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("128.0.0.1") and not is_loopback("example.com")
