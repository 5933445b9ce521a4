"""Token exchange (RFC 8693), the real executable against the dev server: the subject token is
read again from its source at every renewal, renewals are single-flight like refreshes, and a
source or subject token that fails is one line, exit 4, with the session kept."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, DevServer, one_error_line
from tests.helpers import parallel, token_requests
from tests.servers.ci_issuer import Issuer, client_key, jti_of, write_secret

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT = "urn:ietf:params:oauth:token-type:jwt"
RECORD = Path("state") / "tokens" / "default.json"


def exchange_login(cli: Cli, server: DevServer, *extra: str, **env: str) -> Any:
    return cli.run("login", "--api-url", server.url, "--issuer", server.url, "--flow", "token-exchange",
                   "--storage", "file", *extra, **env)


def subjects(server: DevServer) -> list[str]:
    return [r["subject"]["jti"] for r in token_requests(server) if r.get("subject")]


SOURCES = {  # kind -> (login flags for a token kept in ``path``, env for a given token)
    "file": lambda path: ["--subject-token-file", str(path)],
    "env": lambda path: ["--subject-token-env", "K8S_TOKEN"],
    "command": lambda path: ["--subject-token-command", f"cat {path}"],
}


@pytest.mark.parametrize("kind", list(SOURCES))
def test_renewal_exchanges_the_rotated_subject_token(cli: Cli, server: DevServer, tmp_path: Path, kind: str) -> None:
    issuer = Issuer()
    server.configure(subject_jwks=issuer.jwks(), access_ttl=1)
    path = write_secret(tmp_path / "token", issuer.mint(email="alice@example.com"), mode=0o644)
    first = path.read_text()
    result = exchange_login(cli, server, *SOURCES[kind](path), K8S_TOKEN=first)
    assert result.code == 0, result
    assert "Logged in to" in result.err and "as alice@example.com" in result.err
    server.configure(access_ttl=300)
    time.sleep(1.2)
    expired = json.loads(cli.run("whoami", "--json").out)
    assert (expired["access_token_valid"], expired["renewable"], expired["refresh_token"]) == (False, True, False)
    write_secret(path, issuer.mint(email="alice@example.com"), mode=0o644)  # the kubelet rotated it
    second = path.read_text()
    assert cli.run("token", K8S_TOKEN=second).code == 0
    assert subjects(server) == [jti_of(first), jti_of(second)]
    assert server.stats()["token_exchanges"] == 2
    assert json.loads(cli.run("call", "/users/me").out)["email"] == "alice@example.com"
    # Where the token comes from is kept; the tokens themselves are not.
    on_disk = b"".join(cli.snapshot().values())
    assert first.encode() not in on_disk and second.encode() not in on_disk
    record = json.loads((cli.home / RECORD).read_text())
    assert record["refresh_token"] is None


def test_the_request_carries_every_parameter(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    issuer = Issuer()
    server.configure(subject_jwks=issuer.jwks())
    subject = write_secret(tmp_path / "subject", issuer.mint())
    actor = write_secret(tmp_path / "actor", issuer.mint(sub="deployer-bot"))
    result = exchange_login(cli, server, "--subject-token-file", str(subject),
                            "--subject-token-type", "urn:ietf:params:oauth:token-type:id_token",
                            "--actor-token-file", str(actor), "--requested-token-type",
                            "urn:ietf:params:oauth:token-type:access_token", "--audience", "orders-api",
                            "--resource", "https://api.example.test/", "--scope", "orders.read")
    assert result.code == 0, result
    [seen] = token_requests(server)
    assert seen["grant_type"] == GRANT and seen["client_auth"] == "none"
    assert seen["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token"
    assert seen["actor"]["sub"] == "deployer-bot" and seen["actor_token_type"] == JWT
    assert seen["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert (seen["audience"], seen["resource"], seen["scope"]) == ("orders-api", "https://api.example.test/",
                                                                  "orders.read")


@pytest.mark.parametrize("auth", ["secret", "private_key_jwt", "client_assertion"])
def test_the_exchange_authenticates_the_client(cli: Cli, server: DevServer, tmp_path: Path, auth: str) -> None:
    issuer = Issuer()
    key = tmp_path / "client.pem"
    clients = {"secret": {"secret": "s3cret"}, "private_key_jwt": {"public_key": client_key(key)},
               "client_assertion": {"jwks": issuer.jwks(), "issuer": issuer.iss, "subject": "ci-deployer",
                                    "audience": "authcli-test"}}
    server.configure(subject_jwks=issuer.jwks(), clients={"ci": clients[auth]})
    subject = write_secret(tmp_path / "subject", issuer.mint())
    assertion = write_secret(tmp_path / "assertion", issuer.mint(sub="ci-deployer"))
    flags = {"secret": ["--client-secret-stdin"], "private_key_jwt": ["--client-key-file", str(key)],
             "client_assertion": ["--client-assertion-file", str(assertion)]}[auth]
    result = cli.run("login", "--api-url", server.url, "--issuer", server.url, "--flow", "token-exchange",
                     "--storage", "file", "--client-id", "ci", "--subject-token-file", str(subject), *flags,
                     input="s3cret\n" if auth == "secret" else None)
    assert result.code == 0, result
    [seen] = token_requests(server)
    assert seen["status"] == 200
    assert seen["client_auth"] == {"secret": "client_secret_basic"}.get(auth, "jwt")


def test_50_processes_on_an_expired_token_cause_one_exchange(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    issuer = Issuer()
    server.configure(subject_jwks=issuer.jwks(), access_ttl=1)
    path = write_secret(tmp_path / "token", issuer.mint())
    assert exchange_login(cli, server, "--subject-token-file", str(path)).code == 0
    server.configure(access_ttl=300, exchange_delay=0.5)  # a slow server widens the race window
    time.sleep(1.2)
    results = parallel(cli, 50, "token")
    assert [r for r in results if r.code != 0] == []
    assert len({r.out for r in results}) == 1
    assert server.stats()["token_exchanges"] == 2  # the login's and one renewal
    assert cli.run("token").out in {r.out for r in results}


def test_without_the_lock_each_process_exchanges(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    """The same run with the lock switched off: proves the test above can fail."""
    issuer = Issuer()
    server.configure(subject_jwks=issuer.jwks(), access_ttl=1)
    path = write_secret(tmp_path / "token", issuer.mint())
    assert exchange_login(cli, server, "--subject-token-file", str(path)).code == 0
    server.configure(access_ttl=300, exchange_delay=0.5)
    time.sleep(1.2)
    parallel(cli, 50, "token", AUTHCLI_TEST_DISABLE_LOCK="1")
    assert server.stats()["token_exchanges"] > 2


BROKEN = [  # (case, login flags, what breaks it, env at renewal, the line)
    ("missing file", lambda p: ["--subject-token-file", str(p)], lambda p, i: p.unlink(), {},
     "cannot read the subject token file {path}: No such file or directory; the session is kept"),
    ("empty env", lambda p: ["--subject-token-env", "K8S_TOKEN"], None, {"K8S_TOKEN": ""},
     "the subject token in $K8S_TOKEN is empty or not set; the session is kept"),
    ("failing command", lambda p: ["--subject-token-command", f"sh -c 'cat {p} && test -s {p}'"],
     lambda p, i: p.write_text(""), {}, "the subject token command 'sh' failed (exit status 1); the session is kept"),
    ("not a token", lambda p: ["--subject-token-file", str(p)], lambda p, i: p.write_text("two\nlines"), {},
     "the subject token file {path} does not hold a token (one line of visible characters); the session is kept"),
    ("expired subject token", lambda p: ["--subject-token-file", str(p)],
     lambda p, i: write_secret(p, i.mint(lifetime=-30)), {},
     "127.0.0.1:{port} refused the token exchange (HTTP 400 invalid_request: the subject token is not acceptable: "
     "expired); check the subject token file {path}; the session is kept"),
]


@pytest.mark.parametrize(("case", "flags", "breaks", "env", "line"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_subject_token_that_fails_is_one_line_exit_4_and_the_session_is_kept(
        cli: Cli, server: DevServer, tmp_path: Path, case: str, flags: Any, breaks: Any, env: dict[str, str],
        line: str) -> None:
    issuer = Issuer()
    server.configure(subject_jwks=issuer.jwks(), access_ttl=1)
    path = write_secret(tmp_path / "token", issuer.mint())
    good = path.read_text()
    assert exchange_login(cli, server, *flags(path), K8S_TOKEN=good).code == 0
    if breaks is not None:
        breaks(path, issuer)
    time.sleep(1.2)
    record = (cli.home / RECORD).read_bytes()
    result = cli.run("token", **env)
    assert result.code == 4, result
    port = server.url.rsplit(":", 1)[1]
    assert one_error_line(result) == "authcli: " + line.format(path=path, port=port)
    assert result.out == ""
    assert good not in result.err
    assert (cli.home / RECORD).read_bytes() == record  # the session is kept
    write_secret(path, issuer.mint())  # mended: the next renewal goes through
    assert cli.run("token", K8S_TOKEN=path.read_text()).code == 0


LOGIN_ERRORS = [  # (login flags, exit code, the line)
    (["--subject-token-file", "{missing}"], 4,
     "cannot read the subject token file {missing}: No such file or directory"),
    (["--subject-token-env", "UNSET_TOKEN_VAR"], 4, "the subject token in $UNSET_TOKEN_VAR is empty or not set"),
    ([], 2, "--flow token-exchange needs the token to exchange: --subject-token-file PATH, --subject-token-env NAME "
            "or --subject-token-command CMD"),
    (["--subject-token-file", "a", "--subject-token-env", "B"], 2,
     "--subject-token-file and --subject-token-env both say where the subject token comes from: choose one"),
    (["--subject-token-env", "eyJ.abc.def"], 2,
     "--subject-token-env takes the NAME of an environment variable (letters, digits, '_'), not its value"),
]


@pytest.mark.parametrize(("flags", "code", "line"), LOGIN_ERRORS, ids=[e[2][:40] for e in LOGIN_ERRORS])
def test_login_errors(cli: Cli, server: DevServer, tmp_path: Path, flags: list[str], code: int, line: str) -> None:
    missing = str(tmp_path / "missing")
    result = exchange_login(cli, server, *[f.format(missing=missing) for f in flags])
    assert result.code == code, result
    assert one_error_line(result) == "authcli: " + line.format(missing=missing)
    assert server.stats()["token_requests"] == 0


def test_subject_token_flags_need_the_exchange_flow(cli: Cli, server: DevServer) -> None:
    result = cli.run("login", "--api-url", server.url, "--token-endpoint", server.url + "/oauth/token",
                     "--client-id", "ci", "--flow", "client-credentials", "--subject-token-env", "X",
                     "--client-secret-stdin", input="s\n")
    assert result.code == 2
    assert one_error_line(result) == "authcli: --subject-token-env goes with --flow token-exchange"


def test_a_provider_without_token_exchange_is_refused_before_anything_is_sent(cli: Cli, server: DevServer,
                                                                             tmp_path: Path) -> None:
    server.configure(grant_types=["client_credentials"])
    path = write_secret(tmp_path / "token", Issuer().mint())
    result = exchange_login(cli, server, "--subject-token-file", str(path))
    assert result.code == 2
    assert one_error_line(result) == (f"authcli: the provider {server.url} does not offer token exchange (its "
                                      "discovery document's grant_types_supported has no "
                                      f"{GRANT})")
    assert server.stats()["token_requests"] == 0


def test_a_rejected_subject_token_at_login_names_its_source(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    issuer = Issuer()
    server.configure(subject_jwks=issuer.jwks())
    path = write_secret(tmp_path / "token", Issuer().mint())  # signed by an issuer the server does not trust
    result = exchange_login(cli, server, "--subject-token-file", str(path))
    assert result.code == 4
    line = one_error_line(result)
    assert line.startswith("authcli: login failed: 127.0.0.1:") and "refused the token exchange (HTTP 400 " \
        "invalid_request: the subject token is not acceptable: bad signature" in line, line
    assert line.endswith(f"check the subject token file {path}")
    assert path.read_text() not in result.err
