"""authcli for other programs (issue 12, the parts done): `token --format json|exec-credential|curl-config`
and git's credential-helper protocol, tested with the real git."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, Cli, DevServer
from tests.helpers import expired_session


def test_token_as_json(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    result = cli.run("token", "--format", "json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert set(data) == {"access_token", "token_type", "expires_at"}
    assert data["access_token"] == cli.run("token").out.strip()
    assert data["token_type"] == "Bearer"
    assert time.strptime(data["expires_at"], "%Y-%m-%dT%H:%M:%SZ")


def test_token_as_a_kubernetes_exec_credential(cli: Cli, server: DevServer) -> None:
    """The shape kubectl reads from an exec plugin (client.authentication.k8s.io/v1): apiVersion,
    kind, and status with token and an RFC 3339 expirationTimestamp, so kubectl caches it."""
    expired_session(cli, server)  # the credential comes through the engine: refreshed first
    result = cli.run("token", "--format", "exec-credential")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["apiVersion"] == "client.authentication.k8s.io/v1" and data["kind"] == "ExecCredential"
    assert set(data["status"]) == {"token", "expirationTimestamp"}
    assert data["status"]["token"] == cli.run("token").out.strip()
    expiry = time.mktime(time.strptime(data["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert expiry > time.time()
    assert server.stats()["refreshes"] == 1


def test_token_as_a_curl_config_keeps_it_off_curls_argv(cli: Cli, server: DevServer) -> None:
    """`authcli token --format curl-config | curl -K -`: the real curl reads the header from
    stdin, the API accepts it, and the token is never on curl's command line."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    expired_session(cli, server)  # through the engine: refreshed first
    config = cli.run("token", "--format", "curl-config")
    assert config.code == 0, config
    token = cli.run("token").out.strip()
    assert config.out == f'header = "Authorization: Bearer {token}"\n'
    argv = ["curl", "-sS", "-K", "-", server.url + "/users/me"]
    me = subprocess.run(argv, input=config.out, capture_output=True, text=True, timeout=30)
    assert me.returncode == 0 and json.loads(me.stdout)["email"] == "alice@example.com", me
    assert token not in " ".join(argv)
    assert server.stats()["refreshes"] == 1


def test_an_unknown_format_is_a_usage_error(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    result = cli.run("token", "--format", "yaml")
    assert result.code == 2 and "unknown --format" in result.err


@pytest.fixture
def git(cli: Cli, tmp_path: Path) -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    home = tmp_path / "git-home"
    home.mkdir()
    cli.env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return ["git", "-c", "credential.helper=", "-c", f"credential.helper=!{AUTHCLI} git-credential"]


def fill(cli: Cli, git: list[str], url: str) -> subprocess.CompletedProcess[str]:
    protocol, host = url.split("://")
    return subprocess.run([*git, "credential", "fill"], input=f"protocol={protocol}\nhost={host}\n\n",
                          capture_output=True, text=True, env=cli.env, timeout=60)


def test_git_gets_a_fresh_token_for_the_profiles_origin(cli: Cli, server: DevServer, git: list[str]) -> None:
    expired_session(cli, server)
    result = fill(cli, git, server.url)
    assert result.returncode == 0, result.stderr
    answer = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert answer["password"] == cli.run("token").out.strip()
    assert answer["username"] == "alice@example.com"
    assert server.stats()["refreshes"] == 1  # refreshed by the engine, once


def test_git_gets_nothing_for_another_origin(cli: Cli, server: DevServer, git: list[str]) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    token = cli.run("token").out.strip()
    other = server.url.rsplit(":", 1)[0] + ":1"  # same host, another port: another origin
    result = fill(cli, git, other)
    assert result.returncode != 0  # no helper answered, and git may not prompt
    assert token not in result.stdout + result.stderr


@pytest.mark.parametrize("action", ["store", "erase"])
def test_store_and_erase_change_nothing(cli: Cli, server: DevServer, action: str) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    before = cli.snapshot()
    protocol, host = server.url.split("://")
    result = cli.run("git-credential", action, input=f"protocol={protocol}\nhost={host}\nusername=x\npassword=y\n\n")
    assert result.code == 0 and result.out == ""
    assert cli.snapshot() == before


def test_the_helper_is_on_the_fast_path(cli: Cli, server: DevServer) -> None:
    """git runs the helper for every fetch and push: no Typer on that path."""
    from tests.helpers import loaded

    assert cli.login(server.url, "--storage", "file").code == 0
    assert "typer" not in loaded(cli, "git-credential", "erase")


def test_kubectl_uses_the_exec_credential(cli: Cli, tls_server: DevServer, certificate: tuple[Path, Path],
                                          tmp_path: Path) -> None:
    """A real kubectl runs authcli as its exec plugin and sends the token to the API it names
    (the dev server, over https as client-go requires for exec credentials, stands in for a
    cluster: `kubectl get --raw` fetches any path)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed here")
    cli.env["REQUESTS_CA_BUNDLE"] = str(certificate[0])
    assert cli.login(tls_server.url, "--storage", "file").code == 0
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "dev", "cluster": {"server": tls_server.url,
                                                 "certificate-authority": str(certificate[0])}}],
        "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "me"}}],
        "users": [{"name": "me", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": AUTHCLI,
            "args": ["token", "--format", "exec-credential"], "interactiveMode": "Never",
        }}}],
    }))
    result = subprocess.run(["kubectl", "--kubeconfig", str(config), "get", "--raw", "/users/me"],
                            capture_output=True, text=True, env={**cli.env, "HOME": str(tmp_path)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["email"] == "alice@example.com"
