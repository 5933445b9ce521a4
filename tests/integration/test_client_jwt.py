"""Client authentication with a JWT (RFC 7523 2.2), the real executable against the dev server's
OAuth token endpoint: private_key_jwt signed with a key file, and a federated assertion issued
elsewhere (a CI or Kubernetes token) read again for every token request."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, DevServer, one_error_line
from tests.helpers import token_requests
from tests.servers.ci_issuer import Issuer, client_key, jti_of, write_secret

FEDERATED = {"issuer": "https://ci.example.test", "subject": "repo:example/app:ref:refs/heads/main",
             "audience": "api://authcli-test"}


def cc_login(cli: Cli, server: DevServer, *extra: str, **env: str) -> Any:
    return cli.run("login", "--api-url", server.url, "--issuer", server.url, "--client-id", "ci",
                   "--flow", "client-credentials", "--storage", "file", *extra, **env)


def federated(issuer: Issuer, **claims: Any) -> str:
    return issuer.mint(sub=FEDERATED["subject"], aud=FEDERATED["audience"], **claims)


def secrets_on_disk(cli: Cli) -> bytes:
    return b"".join(cli.snapshot().values())


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_private_key_jwt_with_client_credentials(cli: Cli, server: DevServer, tmp_path: Path, kind: str) -> None:
    key = tmp_path / "client.pem"
    server.configure(clients={"ci": {"public_key": client_key(key, kind)}}, access_ttl=60)
    result = cc_login(cli, server, "--client-key-file", str(key), "--client-key-id", "k1")
    assert result.code == 0, result
    assert "as ci" in result.err
    assert cli.run("refresh").code == 0
    assert cli.run("whoami", "--verify").code == 0
    seen = token_requests(server)
    assert [r["status"] for r in seen] == [200, 200]
    assert all(r["client_auth"] == "jwt" for r in seen)
    assertions = [r["assertion"] for r in seen]
    assert {a["iss"] for a in assertions} == {a["sub"] for a in assertions} == {"ci"}
    assert {a["aud"] for a in assertions} == {server.url + "/oauth/token"}
    assert len({a["jti"] for a in assertions}) == 2  # a new assertion each time
    assert server.stats()["client_assertions"] == 2
    # The profile names the key file; neither the key nor a client secret is stored anywhere.
    profile = (cli.home / "config.toml").read_text()
    assert f'client_key_file = "{key}"' in profile and 'client_auth = "private_key_jwt"' in profile
    assert b"PRIVATE KEY" not in secrets_on_disk(cli)
    record = json.loads((cli.home / "state" / "tokens" / "default.json").read_text())
    assert record["client_secret"] is None and record["dpop_key"] is None


def test_the_key_file_is_read_each_time_so_a_new_key_takes_over(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    key = tmp_path / "client.pem"
    server.configure(clients={"ci": {"public_key": client_key(key)}})
    assert cc_login(cli, server, "--client-key-file", str(key)).code == 0
    server.configure(clients={"ci": {"public_key": client_key(key)}})  # rotated: only the new key counts
    assert cli.run("refresh").code == 0
    assert [r["status"] for r in token_requests(server)] == [200, 200]


def test_a_federated_assertion_file_is_read_again_for_every_request(cli: Cli, server: DevServer,
                                                                    tmp_path: Path) -> None:
    issuer = Issuer()
    server.configure(clients={"ci": {"jwks": issuer.jwks(), **FEDERATED}})
    path = write_secret(tmp_path / "azure-identity-token", federated(issuer), mode=0o644)
    first = jti_of(path.read_text())
    assert cc_login(cli, server, "--client-assertion-file", str(path)).code == 0
    write_secret(path, federated(issuer), mode=0o644)  # the platform rotated the token
    second = jti_of(path.read_text())
    assert cli.run("refresh").code == 0
    seen = token_requests(server)
    assert [r["assertion"]["jti"] for r in seen] == [first, second]
    assert [r["status"] for r in seen] == [200, 200]
    assert 'client_assertion_file = "' in (cli.home / "config.toml").read_text()
    assert path.read_bytes() not in secrets_on_disk(cli)


@pytest.mark.parametrize("how", ["env", "command"])
def test_federated_assertions_from_a_variable_or_a_command(cli: Cli, server: DevServer, tmp_path: Path,
                                                           how: str) -> None:
    issuer = Issuer()
    server.configure(clients={"ci": {"jwks": issuer.jwks(), **FEDERATED}})
    path = write_secret(tmp_path / "token", federated(issuer))
    tokens = [path.read_text(), federated(issuer)]
    if how == "env":
        assert cc_login(cli, server, "--client-assertion-env", "CI_TOKEN", CI_TOKEN=tokens[0]).code == 0
        assert cli.run("refresh", CI_TOKEN=tokens[1]).code == 0
    else:
        assert cc_login(cli, server, "--client-assertion-command", f"cat {path}").code == 0
        write_secret(path, tokens[1])
        assert cli.run("refresh").code == 0
    assert [r["assertion"]["jti"] for r in token_requests(server)] == [jti_of(t) for t in tokens]


REFUSED_ASSERTIONS = [  # (case, how the assertion is made) -> the server's invalid_client
    ("wrong key", lambda issuer: Issuer().mint(sub=FEDERATED["subject"], aud=FEDERATED["audience"])),
    ("expired", lambda issuer: federated(issuer, lifetime=-60)),
    ("wrong audience", lambda issuer: issuer.mint(sub=FEDERATED["subject"], aud="someone-else")),
    ("wrong subject", lambda issuer: issuer.mint(sub="repo:evil/fork", aud=FEDERATED["audience"])),
]


@pytest.mark.parametrize(("case", "make"), REFUSED_ASSERTIONS, ids=[c for c, _ in REFUSED_ASSERTIONS])
def test_refused_assertions_are_one_line_exit_4(cli: Cli, server: DevServer, tmp_path: Path, case: str,
                                                make: Any) -> None:
    issuer = Issuer()
    server.configure(clients={"ci": {"jwks": issuer.jwks(), **FEDERATED}})
    token = make(issuer)
    path = write_secret(tmp_path / "token", token)
    result = cc_login(cli, server, "--client-assertion-file", str(path))
    assert result.code == 4, result
    assert one_error_line(result).startswith("authcli: login failed: client authentication failed: ")
    assert token not in result.err
    assert server.stats()["client_auth_failures"] == 1


def test_a_reused_assertion_is_refused_and_the_session_kept(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    """The file did not rotate: the server refuses the replayed jti, authcli keeps the session."""
    issuer = Issuer()
    server.configure(clients={"ci": {"jwks": issuer.jwks(), **FEDERATED}}, access_ttl=1)
    path = write_secret(tmp_path / "token", federated(issuer))
    assert cc_login(cli, server, "--client-assertion-file", str(path)).code == 0
    time.sleep(1.2)
    result = cli.run("token")
    assert result.code == 4
    line = one_error_line(result)
    assert "refused the refresh (HTTP 401 invalid_client" in line and "the session is kept" in line, line
    assert server.stats()["assertion_replays"] == 1
    write_secret(path, federated(issuer))
    assert cli.run("token").code == 0


BROKEN_SOURCES = [  # (login flags, env at login, how it breaks, env afterwards, the source the message names)
    ("file", lambda p: ["--client-assertion-file", str(p)], {}, lambda p: p.unlink(), {},
     "cannot read the client assertion file {path}: No such file or directory"),
    ("env", lambda p: ["--client-assertion-env", "CI_TOKEN"], {"CI_TOKEN": "from-file"}, None, {"CI_TOKEN": ""},
     "the client assertion in $CI_TOKEN is empty or not set"),
    ("command", lambda p: ["--client-assertion-command", f"sh -c 'cat {p} && test -s {p}'"], {},
     lambda p: p.write_text(""), {}, "the client assertion command 'sh' failed (exit status 1)"),
    ("key file", lambda p: ["--client-key-file", str(p.with_name("client.pem"))], {},
     lambda p: p.with_name("client.pem").unlink(), {},
     "cannot read the client key file {key}: No such file or directory"),
]


@pytest.mark.parametrize(("case", "flags", "login_env", "breaks", "env", "message"), BROKEN_SOURCES,
                         ids=[c[0] for c in BROKEN_SOURCES])
def test_a_source_that_breaks_is_one_line_exit_4_and_the_session_is_kept(
        cli: Cli, server: DevServer, tmp_path: Path, case: str, flags: Any, login_env: dict[str, str], breaks: Any,
        env: dict[str, str], message: str) -> None:
    issuer = Issuer()
    key = tmp_path / "client.pem"
    clients = {"ci": {"public_key": client_key(key)}} if case == "key file" else \
        {"ci": {"jwks": issuer.jwks(), **FEDERATED}}
    server.configure(clients=clients, access_ttl=1)
    path = write_secret(tmp_path / "token", federated(issuer))
    login_env = {k: path.read_text() if v == "from-file" else v for k, v in login_env.items()}
    assert cc_login(cli, server, *flags(path), **login_env).code == 0
    if breaks is not None:
        breaks(path)
    time.sleep(1.2)
    record = (cli.home / "state" / "tokens" / "default.json").read_bytes()
    result = cli.run("token", **env)
    assert result.code == 4, result
    line = one_error_line(result)
    expected = message.format(path=path, key=key)
    assert line == f"authcli: {expected}; the session is kept", line
    assert (cli.home / "state" / "tokens" / "default.json").read_bytes() == record
    assert len(token_requests(server)) == 1  # nothing was sent


def test_a_provider_that_does_not_list_the_method_is_refused_before_anything_is_sent(
        cli: Cli, server: DevServer, tmp_path: Path) -> None:
    key = tmp_path / "client.pem"
    server.configure(clients={"ci": {"public_key": client_key(key)}}, auth_methods=["client_secret_basic"])
    result = cc_login(cli, server, "--client-key-file", str(key))
    assert result.code == 2
    assert one_error_line(result) == (
        f"authcli: the provider {server.url} does not accept private_key_jwt client authentication (its discovery "
        "document lists: client_secret_basic); choose one of those")
    assert server.stats()["token_requests"] == 0
    assert not (cli.home / "config.toml").exists()


USAGE = [  # login flags -> exit 2 and the line
    (["--client-key-file", "K", "--client-assertion-env", "X"], "--client-key-file signs a client assertion"),
    (["--client-assertion-env", "X", "--client-assertion-file", "F"],
     "--client-assertion-file and --client-assertion-env both say where the client assertion comes from"),
    (["--client-assertion-env", "eyJhbGciOi.x.y"], "--client-assertion-env takes the NAME of an environment variable"),
    (["--client-key-file", "K", "--client-auth", "client_secret_post"],
     "--client-key-file means --client-auth private_key_jwt, not client_secret_post"),
    (["--client-auth", "private_key_jwt"], "client_auth private_key_jwt needs --client-key-file PEM"),
    (["--client-key-id", "k1"], "--client-key-id goes with --client-key-file"),
    (["--client-assertion-command", "'unterminated"], "--client-assertion-command cannot be split into words"),
    (["--client-auth", "magic"], "unknown --client-auth 'magic'"),
]


@pytest.mark.parametrize(("flags", "message"), USAGE, ids=[m[:40] for _, m in USAGE])
def test_login_usage_errors(cli: Cli, server: DevServer, flags: list[str], message: str) -> None:
    result = cli.run("login", "--api-url", server.url, "--token-endpoint", server.url + "/oauth/token",
                     "--client-id", "ci", "--flow", "client-credentials", "--storage", "file", *flags)
    assert result.code == 2, result
    assert message in one_error_line(result)
    assert server.stats()["token_requests"] == 0


@pytest.mark.parametrize(("mode", "fine"), [(0o600, True), (0o640, True), (0o644, False), (0o620, False)])
def test_a_key_others_can_read_is_refused(cli: Cli, server: DevServer, tmp_path: Path, mode: int, fine: bool) -> None:
    key = tmp_path / "client.pem"
    server.configure(clients={"ci": {"public_key": client_key(key, mode=mode)}})
    result = cc_login(cli, server, "--client-key-file", str(key))
    if fine:
        assert result.code == 0, result
        return
    assert result.code == 4
    assert one_error_line(result) == (f"authcli: the client key file {key} can be read or written by other users; "
                                      f"fix it with: chmod 600 {key}")
