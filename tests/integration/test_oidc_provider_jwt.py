"""Client authentication with a JWT against npm oidc-provider (tests/servers/oidc/server.mjs), which
implements private_key_jwt and fetches the client's keys from its jwks_uri: here a test "CI
issuer"'s JWKS. authcli signs with a key of that JWKS (private_key_jwt), or sends a workload
token the CI issuer minted (a federated assertion); the provider checks signature, aud, exp
and that no jti is used twice."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, one_error_line
from tests.helpers import Provider, approve_device, prompt_url, running_provider
from tests.servers.ci_issuer import Issuer, JwksServer, write_secret

CLIENT = "authcli-keyjwt"


@pytest.fixture
def ci() -> Iterator[tuple[Issuer, JwksServer]]:
    issuer = Issuer(iss=CLIENT)
    server = JwksServer(issuer)
    try:
        yield issuer, server
    finally:
        server.close()


@pytest.fixture
def op(tmp_path: Path, ci: tuple[Issuer, JwksServer], monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    monkeypatch.setenv("OIDC_CLIENT_JWKS_URI", ci[1].url)
    with running_provider(tmp_path) as provider:
        yield provider


def login(cli: Cli, op: Provider, flow: str, *extra: str) -> list[str]:
    return ["login", "--issuer", op.url, "--client-id", CLIENT, "--flow", flow, "--api-url", op.api,
            "--storage", "file", *extra]


def assertion(issuer: Issuer, op: Provider, **claims: object) -> str:
    """A workload token as the CI issuer mints it for this client (RFC 7523: iss = sub = client)."""
    return issuer.mint(sub=CLIENT, aud=op.url + "/token", **claims)


def test_private_key_jwt_with_client_credentials(cli: Cli, op: Provider, ci: tuple[Issuer, JwksServer],
                                                 tmp_path: Path) -> None:
    issuer, _ = ci
    key = issuer.write_key(tmp_path / "client.pem")
    result = cli.run(*login(cli, op, "client-credentials", "--client-key-file", str(key), "--client-key-id",
                            issuer.kid, "--scope", "api:read"))
    assert result.code == 0, result
    assert cli.run("refresh").code == 0
    assert op.stats().get("client_credentials:200") == 2, op.stats()


def test_private_key_jwt_with_the_device_flow_and_refresh(cli: Cli, op: Provider, ci: tuple[Issuer, JwksServer],
                                                          tmp_path: Path) -> None:
    issuer, _ = ci
    key = issuer.write_key(tmp_path / "client.pem")
    proc = cli.popen(*login(cli, op, "device", "--client-key-file", str(key), "--scope",
                            "openid offline_access email profile"))
    prompt_url(proc, "To sign in, open ")
    approve_device(prompt_url(proc, "(or open ").rstrip(")"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "as alice@example.com" in err
    assert cli.run("refresh").code == 0  # refresh_token grant, authenticated by a new assertion
    stats = op.stats()
    assert stats.get("urn:ietf:params:oauth:grant-type:device_code:200") == 1, stats
    assert stats.get("refresh_token:200") == 1, stats


def test_a_federated_assertion_file_rotated_between_requests(cli: Cli, op: Provider, ci: tuple[Issuer, JwksServer],
                                                             tmp_path: Path) -> None:
    issuer, _ = ci
    path = write_secret(tmp_path / "workload-token", assertion(issuer, op), mode=0o644)
    assert cli.run(*login(cli, op, "client-credentials", "--client-assertion-file", str(path))).code == 0
    write_secret(path, assertion(issuer, op), mode=0o644)
    assert cli.run("refresh").code == 0
    assert op.stats().get("client_credentials:200") == 2, op.stats()


def test_a_reused_assertion_is_refused_and_the_session_kept(cli: Cli, op: Provider, ci: tuple[Issuer, JwksServer],
                                                            tmp_path: Path) -> None:
    issuer, _ = ci
    path = write_secret(tmp_path / "workload-token", assertion(issuer, op))
    assert cli.run(*login(cli, op, "client-credentials", "--client-assertion-file", str(path))).code == 0
    record = (cli.home / "state" / "tokens" / "default.json").read_bytes()
    result = cli.run("refresh")  # the file was not rotated: the same jti again
    assert result.code == 4, result
    line = one_error_line(result)
    assert "invalid_client" in line and "the session is kept" in line, line
    assert (cli.home / "state" / "tokens" / "default.json").read_bytes() == record
    assert op.stats().get("error:invalid_client") == 1, op.stats()


MINT = """
import sys, time, secrets, jwt
key, kid, client, aud = sys.argv[1:5]
now = int(time.time())
claims = {"iss": client, "sub": client, "aud": aud, "iat": now, "exp": now + 300, "jti": secrets.token_hex(8)}
print(jwt.encode(claims, open(key).read(), algorithm="ES256", headers={"kid": kid}))
"""


def test_a_federated_assertion_command_with_the_device_flow(cli: Cli, op: Provider, ci: tuple[Issuer, JwksServer],
                                                            tmp_path: Path) -> None:
    """A command that mints a fresh workload token each time (as GitHub's OIDC endpoint does): the
    device authorization request, every poll and the refresh each send a new assertion."""
    issuer, _ = ci
    key = issuer.write_key(tmp_path / "ci-issuer.pem")
    script = tmp_path / "mint.py"
    script.write_text(MINT)
    command = f"{sys.executable} {script} {key} {issuer.kid} {CLIENT} {op.url}/token"
    proc = cli.popen(*login(cli, op, "device", "--client-assertion-command", command, "--scope",
                            "openid offline_access email profile"))
    prompt_url(proc, "To sign in, open ")
    approve_device(prompt_url(proc, "(or open ").rstrip(")"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert cli.run("refresh").code == 0
    stats = op.stats()
    assert stats.get("urn:ietf:params:oauth:grant-type:device_code:200") == 1, stats
    assert stats.get("refresh_token:200") == 1 and "error:invalid_client" not in stats, stats
    assert 'client_assertion_command = "' in (cli.home / "config.toml").read_text()


REFUSED = [  # (case, the assertion) -> invalid_client at login
    ("wrong key", lambda issuer, op: Issuer(iss=CLIENT, kid=issuer.kid).mint(sub=CLIENT, aud=op.url + "/token")),
    ("expired", lambda issuer, op: assertion(issuer, op, lifetime=-120)),
    ("wrong audience", lambda issuer, op: issuer.mint(sub=CLIENT, aud="https://elsewhere.example")),
]


@pytest.mark.parametrize(("case", "make"), REFUSED, ids=[c for c, _ in REFUSED])
def test_refused_assertions(cli: Cli, op: Provider, ci: tuple[Issuer, JwksServer], tmp_path: Path, case: str,
                            make: object) -> None:
    issuer, _ = ci
    token = make(issuer, op)  # type: ignore[operator]
    path = write_secret(tmp_path / "workload-token", token)
    result = cli.run(*login(cli, op, "client-credentials", "--client-assertion-file", str(path)))
    assert result.code == 4, result
    assert one_error_line(result).startswith("authcli: login failed: ")
    assert token not in result.err
    assert op.stats().get("error:invalid_client") == 1, op.stats()
