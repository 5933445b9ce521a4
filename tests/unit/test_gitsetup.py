"""gitsetup: which `credential.<url>.helper` keys may apply to a request (as git's urlmatch and
credential.c decide; where git uses what the helper is not told, such as the remote's path,
a key counts as matching), and the git URL --configure writes."""

from __future__ import annotations

import pytest

from authcli.errors import UsageError
from authcli.gitsetup import _may_match, credential_url

MATCHES = [
    # the key's URL, the request's protocol and host, may git run that helper for it
    ("https://git.example.com", "https", "git.example.com", True),
    ("https://GIT.example.com", "https", "git.example.com", True),
    ("https://git.example.com:443", "https", "git.example.com", True),
    ("https://git.example.com", "https", "git.example.com:443", True),
    ("https://git.example.com", "https", "git.example.com:8443", False),
    ("http://git.example.com", "https", "git.example.com", False),
    ("https://example.com", "https", "git.example.com", False),
    ("https://*.example.com", "https", "git.example.com", True),
    ("https://*.example.com", "https", "a.git.example.com", False),
    ("https://user@git.example.com", "https", "git.example.com", True),  # git may send that user
    ("https://git.example.com/org", "https", "git.example.com", True),   # the remote's path may match
    ("git.example.com", "https", "git.example.com", True),               # a partial URL: the host
    ("git.example.com", "http", "git.example.com", True),
    ("other.example.com", "https", "git.example.com", False),
    ("https://127.0.0.1:8080", "http", "127.0.0.1:8080", False),
    ("http://127.0.0.1:8080", "http", "127.0.0.1:8080", True),
    ("http://[::1]:8080", "http", "[::1]:8080", True),
]


@pytest.mark.parametrize(("pattern", "protocol", "host", "expected"), MATCHES)
def test_which_keys_may_apply(pattern: str, protocol: str, host: str, expected: bool) -> None:
    assert _may_match(pattern, protocol, host) is expected


@pytest.mark.parametrize(("url", "expected"), [
    ("https://Git.Example.com", "https://git.example.com"),
    ("https://git.example.com/", "https://git.example.com"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("  https://git.example.com  ", "https://git.example.com"),
])
def test_the_git_url_written(url: str, expected: str) -> None:
    assert credential_url(url) == expected


@pytest.mark.parametrize("url", ["https://u@git.example.com", "https://git.example.com/org", "https://h?x=1",
                                 "ssh://git.example.com", "https://", "https://git.exa\tmple.com"])
def test_a_git_url_that_is_not_an_origin_is_refused(url: str) -> None:
    with pytest.raises(UsageError):
        credential_url(url)
