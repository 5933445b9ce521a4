"""Which OAuth flow `authcli login` picks when neither --flow nor the profile names one."""

from __future__ import annotations

import pytest

from authcli.commands.login import LoginOptions, default_grant


@pytest.mark.parametrize(("opts", "env", "platform", "grant"), [
    (LoginOptions(email="alice"), {}, "linux", "password"),
    (LoginOptions(password_stdin=True), {"DISPLAY": ":0"}, "linux", "password"),
    (LoginOptions(), {"DISPLAY": ":0"}, "linux", "browser"),
    (LoginOptions(), {"WAYLAND_DISPLAY": "wayland-0"}, "linux", "browser"),
    (LoginOptions(), {}, "darwin", "browser"),
    (LoginOptions(), {}, "win32", "browser"),
    (LoginOptions(), {}, "linux", "device"),  # a server, a container, CI
    (LoginOptions(), {"DISPLAY": "localhost:10.0", "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, "linux", "device"),
    (LoginOptions(), {"SSH_TTY": "/dev/pts/1"}, "darwin", "device"),  # the browser would open on the far side
], ids=["email", "piped password", "X11", "Wayland", "macOS", "Windows", "headless", "ssh -X", "ssh to a mac"])
def test_default_grant(opts: LoginOptions, env: dict[str, str], platform: str, grant: str) -> None:
    assert default_grant(opts, env, platform) == grant
