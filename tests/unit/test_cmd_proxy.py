"""Tier two (as in gh) for `authcli proxy`: run(opts, ctx) with IOStreams.test() and a dict store ->
stdout, stderr, exit code for what is refused before anything listens. Serving (a loop until a
signal) is tested against the real dev server in tests/integration/test_proxy.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from authcli.commands.proxy import ProxyOptions, run
from authcli.config import Profile
from tests.fakes import make_ctx, outcome, profile, record

CASES = [
    pytest.param(ProxyOptions(port=65536), "--port must be between 0 and 65535 (0 picks a free one)", id="port too high"),
    pytest.param(ProxyOptions(port=-1), "--port must be between 0 and 65535 (0 picks a free one)", id="negative port"),
    pytest.param(ProxyOptions(port=8700, socket="/tmp/s"), "use --port or --socket, not both", id="port and socket"),
    pytest.param(ProxyOptions(timeout=0), "--timeout must be a number of seconds above 0 and at most 86400",
                 id="zero timeout"),
    pytest.param(ProxyOptions(timeout=float("inf")), "--timeout must be a number of seconds above 0 and at most 86400",
                 id="infinite timeout"),
    pytest.param(ProxyOptions(exit_with=1, port=0),
                 "--exit-with (for authcli exec) goes without --port, --socket and --secret-file", id="exit-with and port"),
    pytest.param(ProxyOptions(exit_with=1, secret_file="s"),
                 "--exit-with (for authcli exec) goes without --port, --socket and --secret-file",
                 id="exit-with and secret-file"),
]


@pytest.mark.parametrize(("opts", "message"), CASES)
def test_proxy_usage_errors(tmp_path: Path, opts: ProxyOptions, message: str) -> None:
    ctx = make_ctx(tmp_path / "home", [profile()], records={"default": record()})
    assert outcome(run, opts, ctx) == (2, "", f"authcli: {message}\n")


@pytest.mark.skipif(sys.platform == "win32", reason="the socket is refused on Windows (another test there)")
@pytest.mark.parametrize(("name", "profiles", "code", "message"), [
    (None, [profile()], 4, "authcli: not logged in; run authcli login\n"),
    (None, None, 4, "authcli: not logged in; run authcli login --api-url URL\n"),
    ("ci", [profile()], 2, "authcli: unknown profile 'ci' (known: default); create it with authcli login --profile ci\n"),
], ids=["no session", "no config", "unknown profile"])
def test_proxy_does_not_start_without_a_session(tmp_path: Path, name: str | None, profiles: list[Profile] | None,
                                                code: int, message: str) -> None:
    ctx = make_ctx(tmp_path / "home", profiles)
    assert outcome(run, ProxyOptions(name, socket=str(tmp_path / "api.sock")), ctx) == (code, "", message)
    assert not (tmp_path / "api.sock").exists()


@pytest.mark.skipif(sys.platform != "win32", reason="Unix sockets exist here")
def test_a_socket_on_windows_is_a_usage_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "home", [profile()], records={"default": record()})
    assert outcome(run, ProxyOptions(socket="s"), ctx) == (
        2, "", "authcli: --socket needs Unix sockets, which Python does not offer on Windows; use --port (the proxy "
               "listens on 127.0.0.1)\n")
