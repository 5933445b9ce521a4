"""Tier two (as in gh) for `authcli dev-server`: run(opts, ctx) with IOStreams.test() -> stdout,
stderr, exit code for what is refused before it serves. Serving is what every integration test
uses (tests/conftest.py's server fixture runs `authcli dev-server --port 0`)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from authcli.commands.dev_server import DevServerOptions, run
from tests.fakes import make_ctx, outcome

CASES = [
    pytest.param(DevServerOptions(port=70000), "--port must be between 0 and 65535 (0 picks a free port)",
                 id="port too high"),
    pytest.param(DevServerOptions(port=-1), "--port must be between 0 and 65535 (0 picks a free port)",
                 id="negative port"),
    pytest.param(DevServerOptions(access_ttl=0), "--access-ttl and --refresh-ttl must be positive", id="zero access ttl"),
    pytest.param(DevServerOptions(refresh_ttl=-5), "--access-ttl and --refresh-ttl must be positive",
                 id="negative refresh ttl"),
    pytest.param(DevServerOptions(token_style="kebab"), "--token-style must be 'camel' or 'snake'", id="token style"),
    pytest.param(DevServerOptions(tls_cert="c.pem"), "--tls-cert and --tls-key go together", id="cert without key"),
    pytest.param(DevServerOptions(tls_key="k.pem"), "--tls-cert and --tls-key go together", id="key without cert"),
]


@pytest.mark.parametrize(("opts", "message"), CASES)
def test_dev_server_usage_errors(tmp_path: Path, opts: DevServerOptions, message: str) -> None:
    ctx = make_ctx(tmp_path / "home")
    assert outcome(run, opts, ctx) == (2, "", f"authcli: {message}\n")


def test_a_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ctx = make_ctx(tmp_path / "home")
        assert outcome(run, DevServerOptions(port=port), ctx) == (
            2, "", f"authcli: cannot listen on 127.0.0.1:{port}: Address already in use\n")
