"""Token exchange (RFC 8693) against an implementation nobody on this project wrote: idpyoidc's
TokenExchangeHelper (PyPI idpyoidc, the Identity Python project) behind a small WSGI wrapper
(tests/servers/idpy_exchange.py). The subject token is one of the server's own access tokens
issued to another client (the "workload"), as an STS exchanges a token it trusts; idpyoidc
answers with the subject token's remaining lifetime as expires_in."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SERVERS, Cli, one_error_line, start_json_server, stop_process
from tests.helpers import parallel
from tests.servers.ci_issuer import write_secret

REQUIRE = os.environ.get("AUTHCLI_REQUIRE_IDPYOIDC") == "1"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


@dataclass
class Idp:
    url: str
    secret: str

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.load(response)

    def subject(self, ttl: int = 300) -> str:
        """A new workload token living ``ttl`` seconds."""
        self.get(f"/_admin/ttl?access={ttl}")
        return str(self.get("/_admin/subject")["token"])

    def exchanges(self) -> int:
        return int(self.get("/_stats").get(f"{EXCHANGE}:200", 0))

    def subjects(self) -> list[str]:
        return list(self.get("/_subjects"))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    try:
        import idpyoidc  # noqa: F401
    except ImportError:
        if REQUIRE:
            pytest.fail("AUTHCLI_REQUIRE_IDPYOIDC=1 but idpyoidc is not installed (pip install -e '.[test]')")
        pytest.skip("needs idpyoidc (pip install -e '.[test]')")
    proc, info = start_json_server([sys.executable, str(SERVERS / "idpy_exchange.py")], tmp_path)
    try:
        yield Idp(info["url"], info["clients"]["authcli"])
    finally:
        stop_process(proc)


def login(cli: Cli, idp: Idp, path: Path) -> Any:
    return cli.run("login", "--issuer", idp.url, "--flow", "token-exchange", "--client-id", "authcli",
                   "--client-secret-stdin", "--subject-token-file", str(path), "--subject-token-type", ACCESS_TOKEN,
                   "--api-url", idp.url, "--storage", "file", input=idp.secret + "\n")


def test_the_second_exchange_presents_the_rotated_subject_token(cli: Cli, idp: Idp, tmp_path: Path) -> None:
    first = idp.subject(ttl=2)
    path = write_secret(tmp_path / "token", first, mode=0o644)
    result = login(cli, idp, path)
    assert result.code == 0, result
    token = json.loads((cli.home / "state" / "tokens" / "default.json").read_text())["access_token"]
    second = idp.subject()
    write_secret(path, second, mode=0o644)  # rotated on disk, as the kubelet does
    time.sleep(2.2)  # the exchanged token expired
    renewed = cli.run("token")
    assert renewed.code == 0, renewed
    assert renewed.out.strip() != token
    assert idp.subjects() == [digest(first), digest(second)]
    assert idp.exchanges() == 2
    assert cli.run("token").out == renewed.out  # valid now: no third exchange
    assert idp.exchanges() == 2


def test_50_processes_on_an_expired_token_cause_one_exchange(cli: Cli, idp: Idp, tmp_path: Path) -> None:
    path = write_secret(tmp_path / "token", idp.subject(ttl=2))
    assert login(cli, idp, path).code == 0
    write_secret(path, idp.subject())
    time.sleep(2.2)
    results = parallel(cli, 50, "token")
    assert [r for r in results if r.code != 0] == []
    assert len({r.out for r in results}) == 1
    assert idp.exchanges() == 2  # the login's and one renewal


def test_an_expired_subject_token_is_refused_and_the_session_kept(cli: Cli, idp: Idp, tmp_path: Path) -> None:
    path = write_secret(tmp_path / "token", idp.subject(ttl=2))
    assert login(cli, idp, path).code == 0
    record = (cli.home / "state" / "tokens" / "default.json").read_bytes()
    time.sleep(3.2)  # the subject token expired too (idpyoidc counts whole seconds), and nobody rotated it
    result = cli.run("token")
    assert result.code == 4, result
    line = one_error_line(result)
    assert "refused the token exchange (HTTP 400 invalid_request: Subject token" in line, line
    assert line.endswith(f"check the subject token file {path}; the session is kept"), line
    assert (cli.home / "state" / "tokens" / "default.json").read_bytes() == record
    write_secret(path, idp.subject())
    assert cli.run("token").code == 0
