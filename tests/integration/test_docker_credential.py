"""docker-credential-authcli: Docker's credential-helper protocol, as Docker sends it (the action
as the one argument, the request on stdin), against the dev server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, DevServer
from tests.helpers import expired_session

HELPER = str(Path(sys.executable).parent / "docker-credential-authcli")


def helper(cli: Cli, action: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELPER, action], input=stdin, capture_output=True, text=True, env=cli.env, timeout=60)


def host_port(server: DevServer) -> str:
    return server.url.split("://", 1)[1]


@pytest.mark.parametrize("form", ["{hp}", "http://{hp}", "http://{hp}/v2/"])
def test_get_answers_for_the_profiles_own_origin(cli: Cli, server: DevServer, form: str) -> None:
    expired_session(cli, server)  # the secret comes through the engine: refreshed first
    server_url = form.format(hp=host_port(server))
    got = helper(cli, "get", server_url + "\n")
    assert got.returncode == 0, got
    answer = json.loads(got.stdout)
    assert answer == {"ServerURL": server_url, "Username": "alice@example.com",
                      "Secret": cli.run("token").out.strip()}
    assert server.stats()["refreshes"] == 1


@pytest.mark.parametrize("server_url", ["registry.example.com", "https://{hp}", "https://evil.example.com/v2/",
                                        "http://{hp}.evil.example.com", "", "bad\x01host"])
def test_get_never_answers_for_another_origin(cli: Cli, server: DevServer, server_url: str) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    got = helper(cli, "get", server_url.format(hp=host_port(server)))
    assert (got.returncode, got.stdout) == (1, "credentials not found in native keychain\n"), got
    assert cli.run("token").out.strip() not in got.stdout + got.stderr


def test_a_configured_registry_and_user_name(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    config = cli.home / "config.toml"
    config.write_text(config.read_text() + 'registry = "registry.example.com"\nregistry_username = "oauth2"\n')
    for server_url in ("registry.example.com", "https://registry.example.com/v2/"):
        got = helper(cli, "get", server_url)
        assert got.returncode == 0, got
        assert json.loads(got.stdout)["Username"] == "oauth2"
    assert helper(cli, "get", host_port(server)).returncode == 1  # the API's origin is not the registry
    assert json.loads(helper(cli, "list", "").stdout) == {"https://registry.example.com:443": "oauth2"}


def test_store_and_erase_change_nothing(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    before = cli.snapshot()
    stored = helper(cli, "store", json.dumps({"ServerURL": host_port(server), "Username": "x", "Secret": "s3cret"}))
    erased = helper(cli, "erase", host_port(server))
    assert (stored.returncode, erased.returncode) == (0, 0), (stored, erased)
    assert cli.snapshot() == before and "s3cret" not in json.dumps({k: v.decode() for k, v in before.items()})


def test_errors_are_one_line_where_docker_shows_them(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    assert cli.run("logout").code == 0
    got = helper(cli, "get", host_port(server))
    assert got.returncode == 4, got
    assert got.stdout == got.stderr == "authcli: not logged in; run authcli login\n"
    unknown = helper(cli, "version", "")
    assert unknown.returncode == 2 and unknown.stderr.startswith("authcli: unknown action")
