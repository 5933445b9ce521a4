"""A Redis URL as authcli shows it: never with its password, wherever the password sits."""

from __future__ import annotations

import pytest

from authcli.stores.redis import redacted, url_password


@pytest.mark.parametrize(("url", "shown", "password"), [
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", None),
    ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0", "pw"),
    ("redis://user:pw@host/1", "redis://user:***@host/1", "pw"),
    ("redis://host/0?password=pw", "redis://host/0?password=***", "pw"),
    ("redis://host/0?PASSWORD=pw&socket_timeout=5", "redis://host/0?PASSWORD=***&socket_timeout=5", None),
    ("rediss://u:p%40ss@[::1]:6380/0?password=x", "rediss://u:***@[::1]:6380/0?password=***", "p%40ss"),
    ("redis://host/0?socket_timeout=5", "redis://host/0?socket_timeout=5", None),
])
def test_redacted(url: str, shown: str, password: str | None) -> None:
    assert redacted(url) == shown
    if password is not None:
        assert url_password(url) == password
