"""Bounded in time and size (issue 10, section 3), against tests/servers/hostile.py: a server
that drips, sends a gzip bomb, impossible lifetimes or tokens with CR/LF cannot hold authcli
past its deadline, blow up its memory, or get anything stored."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, SERVERS, Cli, one_error_line, start_json_server, stop_process


@dataclass
class HostileServer:
    url: str

    def mode(self, **modes: str) -> None:
        request = urllib.request.Request(self.url + "/_mode", data=json.dumps(modes).encode(), method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/_stats", timeout=10) as response:
            return json.load(response)  # type: ignore[no-any-return]


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[HostileServer]:
    proc, info = start_json_server([sys.executable, str(SERVERS / "hostile.py")], tmp_path)
    yield HostileServer(info["url"])
    stop_process(proc)


def login(cli: Cli, server: HostileServer, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTHCLI, "login", "--api-url", server.url, "--email", "a@example.com", "--password-stdin",
                           "--storage", "file"], input="pw\n", capture_output=True, text=True,
                          env={**cli.env, **env}, timeout=60)


def token_file(cli: Cli) -> Path:
    return cli.home / "state" / "tokens" / "default.json"


def due_for_refresh(cli: Cli, server: HostileServer, refresh: str) -> bytes:
    """Log in with a one-second token, make the server answer refreshes with ``refresh``, let
    the token expire; the stored record, to compare with afterwards."""
    server.mode(login="short")
    assert login(cli, server).returncode == 0
    server.mode(refresh=refresh)
    time.sleep(1.2)
    return token_file(cli).read_bytes()


# -- one deadline for the whole exchange ------------------------------------------------------
# The server drips for a minute; the subprocess limit of 60 s would fail the test if authcli
# waited for it. No duration is asserted.

@pytest.mark.parametrize("behaviour", ["drip", "drip-headers"])
def test_a_dripping_server_cannot_hold_a_login(cli: Cli, hostile: HostileServer, behaviour: str) -> None:
    hostile.mode(login=behaviour)
    result = login(cli, hostile, AUTHCLI_TIMEOUT="2")
    assert result.returncode == 5, result
    assert "timed out after 2s" in result.stderr
    assert not token_file(cli).exists()


def test_a_dripping_server_cannot_hold_a_discovery(cli: Cli, hostile: HostileServer) -> None:
    hostile.mode(me="drip")  # every GET, /.well-known/openid-configuration included
    result = cli.run("login", "--issuer", hostile.url, "--client-id", "x", "--flow", "client-credentials",
                     AUTHCLI_TIMEOUT="2", AUTHCLI_CLIENT_SECRET="s", timeout=60)
    assert result.code == 5, result
    assert "timed out after 2s" in one_error_line(result)


def test_a_dripping_refresh_releases_the_lock_and_keeps_the_session(cli: Cli, hostile: HostileServer) -> None:
    before = due_for_refresh(cli, hostile, refresh="drip")
    result = cli.run("token", AUTHCLI_TIMEOUT="1", timeout=60)
    assert result.code == 5, result
    assert "timed out" in one_error_line(result)
    assert token_file(cli).read_bytes() == before  # nothing lost
    # The lock is free: another refresh is attempted, not queued behind a stuck holder.
    hostile.mode(refresh="ok")
    assert cli.run("token", AUTHCLI_LOCK_TIMEOUT="5").code == 0


def test_a_dripping_refresh_cannot_hold_the_proxy(cli: Cli, hostile: HostileServer) -> None:
    """The proxy's refreshes run on its main thread, under the same deadline as any command's:
    its worker threads could not use the SIGALRM deadline, and the drip never trips a read
    timeout. The client's own 30 s timeout fails the test if the proxy waits for the drip."""
    from tests.helpers import start_proxy

    hostile.mode(login="brief")  # 4 s, so the proxy starts on this token and must refresh later
    assert login(cli, hostile).returncode == 0
    proxy = start_proxy(cli, AUTHCLI_TIMEOUT="1")
    try:
        hostile.mode(refresh="drip")
        time.sleep(4.2)
        response = proxy.get("/users/me", timeout=30)
        assert response.status_code == 502, response.text
        assert "timed out" in response.json()["message"]
        hostile.mode(refresh="ok")  # the lock was released: the next request refreshes
        assert proxy.get("/users/me", timeout=30).status_code == 200
    finally:
        stop_process(proxy.proc)


def test_a_dripping_body_in_call_has_an_idle_timeout(cli: Cli, hostile: HostileServer) -> None:
    """call's deadline covers the headers; a body that keeps coming is not cut by it, but
    the drip (0.3 s a byte) never trips an idle timeout of 1 s either. It ends when the body
    does; with the headers dripping instead, the deadline ends it."""
    assert login(cli, hostile).returncode == 0
    hostile.mode(me="drip-headers")
    result = cli.run("call", "/users/me", "--timeout", "2", timeout=60)
    assert result.code == 5 and "timed out after 2s" in one_error_line(result), result


# -- answers capped at 1 MiB after decompression ----------------------------------------------

def peak_rss_kib(args: list[str], env: dict[str, str], stdin: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """Run ``args`` and report its peak resident set size (the child's own, via getrusage)."""
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")
    proc = subprocess.run([sys.executable, "-c", wrapper, *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)
    *lines, peak = proc.stderr.strip().splitlines()
    proc.stderr = "\n".join(lines) + "\n"
    return int(peak), proc


@pytest.mark.parametrize("behaviour", ["bomb", "huge"])
def test_an_enormous_login_answer_is_refused_with_flat_memory(cli: Cli, hostile: HostileServer, behaviour: str) -> None:
    hostile.mode(login=behaviour)
    peak, result = peak_rss_kib(
        [AUTHCLI, "login", "--api-url", hostile.url, "--email", "a@example.com", "--password-stdin", "--storage", "file"],
        cli.env, "pw\n")
    assert result.returncode == 5, result
    assert "larger than 1024 KiB" in result.stderr
    assert peak < 100 * 1024, f"peak RSS {peak} KiB"
    assert not token_file(cli).exists()


def test_an_enormous_refresh_answer_keeps_the_session(cli: Cli, hostile: HostileServer) -> None:
    before = due_for_refresh(cli, hostile, refresh="bomb")
    result = cli.run("token", timeout=120)
    assert result.code == 5 and "larger than 1024 KiB" in result.err, result
    assert token_file(cli).read_bytes() == before


# -- lifetimes and tokens ---------------------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["nan", "infinity", "huge-lifetime", "negative"])
def test_an_impossible_lifetime_is_treated_as_unknown(cli: Cli, hostile: HostileServer, behaviour: str) -> None:
    hostile.mode(login=behaviour)
    result = login(cli, hostile)
    assert result.returncode == 0, result
    assert "impossible token lifetime" in result.stderr
    text = token_file(cli).read_text()
    assert json.loads(text)["expires_at"] is None
    assert "NaN" not in text and "Infinity" not in text
    assert cli.run("token").code == 0
    assert "unknown" in cli.run("whoami").out


@pytest.mark.parametrize("behaviour", ["crlf-access", "space-access", "nul-refresh", "lf-refresh"])
def test_a_malformed_token_is_refused_at_login(cli: Cli, hostile: HostileServer, behaviour: str) -> None:
    hostile.mode(login=behaviour)
    result = login(cli, hostile)
    assert result.returncode == 5, result
    assert "the server sent a malformed token" in result.stderr
    assert "secret" not in result.stderr and "Injected" not in result.stderr  # never echoed
    assert not token_file(cli).exists()


@pytest.mark.parametrize("behaviour", ["crlf-access", "nul-refresh"])
def test_a_malformed_token_is_refused_at_refresh(cli: Cli, hostile: HostileServer, behaviour: str) -> None:
    before = due_for_refresh(cli, hostile, refresh=behaviour)
    result = cli.run("token")
    assert result.code == 5, result
    assert "the server sent a malformed token" in one_error_line(result) and "secret" not in result.err
    assert token_file(cli).read_bytes() == before


@pytest.mark.parametrize("behaviour", ["access-not-string", "lifetime-not-number", "list"])
def test_wrong_types_in_the_login_answer(cli: Cli, hostile: HostileServer, behaviour: str) -> None:
    hostile.mode(login=behaviour)
    result = login(cli, hostile)
    assert result.returncode == 5, result
    assert result.stderr.startswith("authcli: ") and "Traceback" not in result.stderr
    assert not token_file(cli).exists()


def test_impossible_time_claims_are_shown_not_crashed_on(cli: Cli, hostile: HostileServer) -> None:
    """exp 1e300, iat -1e300, a year-10000 auth_time in an unverified ID token: no calendar has them."""
    hostile.mode(login="impossible-times")
    assert login(cli, hostile).returncode == 0
    shown = cli.run("whoami")
    assert shown.code == 0, shown
    assert "exp:       1e+300" in shown.out and "iat:       -1e+300" in shown.out
    assert "auth_time: 253402300800" in shown.out


def test_unverified_claims_reach_the_terminal_neutralised(cli: Cli, hostile: HostileServer) -> None:
    hostile.mode(login="escape-claims")
    assert login(cli, hostile).returncode == 0
    shown = cli.run("whoami")
    assert shown.code == 0, shown
    assert "\x1b" not in shown.out and "\x07" not in shown.out
    assert "Eve \\x1b]0;pwned\\x07" in shown.out
    data = json.loads(cli.run("whoami", "--json").out)  # JSON escapes them itself, and keeps the value
    assert data["user"]["name"].startswith("Eve \x1b]0;pwned")
