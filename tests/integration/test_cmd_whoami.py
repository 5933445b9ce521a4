"""Tier two (as in gh) for `authcli whoami --verify` against the real dev server: run(opts, ctx) in
this process with IOStreams.test() and the real file store -> stdout, stderr, exit code. (Local
state only, without --verify: tests/unit/test_cmd_whoami.py.)"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from authcli.commands.whoami import WhoamiOptions, run
from authcli.config import Config
from authcli.context import Context
from authcli.iostreams import IOStreams
from tests.conftest import Cli, DevServer
from tests.fakes import outcome

ME = {"id": "u-alice", "email": "alice@example.com", "name": "Alice Example"}


@pytest.mark.parametrize(("me_path", "revoke", "code", "err", "refreshes"), [
    ("/users/me", False, 0, "", 0),
    ("/users/me", True, 0, "", 1),
    ("/status/404", False, 1, "authcli: the API answered HTTP 404 from {url}/status/404; check the profile's me_path\n",
     0),
    ("/status/503", False, 5, "authcli: the API answered HTTP 503 from {url}/status/503\n", 0),
    ("/status/401", False, 4, "authcli: the API rejected the session (HTTP 401 from {url}/status/401); run authcli "
                              "login\n", 1),
], ids=["verified", "a revoked token: refreshed once, then verified", "not found: check me_path",
        "a server error is a network error", "still 401 after a refresh: rejected"])
def test_whoami_verify(cli: Cli, server: DevServer, me_path: str, revoke: bool, code: int, err: str,
                       refreshes: int) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    config = Config.load(cli.home / "config.toml")
    config.profiles["default"] = replace(config.profiles["default"], me_path=me_path)
    config.save()
    if revoke:
        server.revoke_access()
    ctx = Context(io=IOStreams.test(), env=dict(cli.env))
    got, out, said = outcome(run, WhoamiOptions(json=True, verify=True), ctx)
    assert (got, said) == (code, err.format(url=server.url)), out
    if code == 0:
        info = json.loads(out)
        assert info["verified"] == ME and info["user"]["email"] == "alice@example.com"
    else:
        assert out == ""
    assert server.stats()["refreshes"] == refreshes
