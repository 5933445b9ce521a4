"""`authcli exec`: a program run behind a proxy for its lifetime, or with a real token."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, DevServer

# A child that reports what it was given and reaches the API through what it was given.
SHOW = (
    "import os, sys, json, urllib.request as u\n"
    "url, token = os.environ[sys.argv[1]], os.environ[sys.argv[2]]\n"
    "req = u.Request(url + '/users/me', headers={'Authorization': 'Bearer ' + token})\n"
    "print(json.dumps({'url': url, 'token': token, 'me': json.load(u.urlopen(req))['email']}))\n"
)


def test_the_program_reaches_the_api_through_a_proxy_and_never_sees_the_token(logged_in: Cli,
                                                                              server: DevServer) -> None:
    import json

    result = logged_in.run("exec", "--", sys.executable, "-c", SHOW, "AUTHCLI_API_URL", "AUTHCLI_API_TOKEN")
    assert result.code == 0, result
    shown = json.loads(result.out)
    assert shown["me"] == "alice@example.com"
    assert shown["url"].startswith("http://127.0.0.1:") and shown["url"] != server.url
    assert shown["token"] != logged_in.run("token").out.strip()  # the local secret, not the token
    assert result.err == ""  # the program's stderr is its own: no request lines without -v


def test_variable_names_of_the_programs_choosing(logged_in: Cli) -> None:
    result = logged_in.run("exec", "--url-env", "OPENAI_BASE_URL", "--token-env", "OPENAI_API_KEY", "--",
                           sys.executable, "-c", SHOW, "OPENAI_BASE_URL", "OPENAI_API_KEY")
    assert result.code == 0 and '"me": "alice@example.com"' in result.out, result


def test_verbose_logs_the_programs_requests(logged_in: Cli) -> None:
    result = logged_in.run("exec", "-v", "--", sys.executable, "-c", SHOW, "AUTHCLI_API_URL", "AUTHCLI_API_TOKEN")
    assert result.code == 0
    assert [line.rsplit(" ", 2)[0] for line in result.err.splitlines()] == ["GET /users/me 200"]


def test_token_mode_exports_a_real_token_and_the_apis_own_url(logged_in: Cli, server: DevServer) -> None:
    import json

    result = logged_in.run("exec", "--token", "--min-ttl", "30", "--", sys.executable, "-c", SHOW,
                           "AUTHCLI_API_URL", "AUTHCLI_API_TOKEN")
    assert result.code == 0, result
    shown = json.loads(result.out)
    assert shown["url"] == server.url and shown["token"] == logged_in.run("token").out.strip()


@pytest.mark.parametrize(("command", "code", "err"), [
    (["sh", "-c", "exit 0"], 0, ""),
    (["sh", "-c", "exit 7"], 7, ""),
    # authcli has become the program, so the caller sees the program's own death by the
    # signal (a shell's $? is 128+N).
    (["sh", "-c", "kill -9 $$"], -9, ""),
    (["no-such-program-authcli"], 127, "authcli: no-such-program-authcli: command not found\n"),
    (["{tmp}/not-executable"], 126, "authcli: cannot run {tmp}/not-executable: Permission denied\n"),
])
@pytest.mark.parametrize("mode", ["proxy", "token"])
def test_the_programs_exit_status_is_authclis(logged_in: Cli, tmp_path: Path, command: list[str],
                                              code: int | dict[str, int], err: str, mode: str) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")  # 0644: not even root may run it
    command = [part.replace("{tmp}", str(tmp_path)) for part in command]
    result = logged_in.run("exec", *(["--token"] if mode == "token" else []), "--", *command)
    expected = code[mode] if isinstance(code, dict) else code
    assert (result.code, result.err) == (expected, err.replace("{tmp}", str(tmp_path))), result


@pytest.mark.parametrize(("args", "message"), [
    ([], "Missing argument"),
    (["--url-env", "1BAD", "--", "true"], "--url-env '1BAD' is not a variable name"),
    (["--url-env", "X", "--token-env", "X", "--", "true"], "must name different variables"),
    (["--min-ttl", "60", "--", "true"], "--min-ttl goes with --token"),
    (["--token", "--min-ttl", "-1", "--", "true"], "--min-ttl must be a finite number"),
])
def test_bad_usage(logged_in: Cli, args: list[str], message: str) -> None:
    result = logged_in.run("exec", *args)
    assert result.code == 2 and message in result.err, result
    assert len(result.err.splitlines()) == 1


def test_not_logged_in_runs_nothing(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for mode in ([], ["--token"]):
        result = cli.run("exec", *mode, "--", "touch", str(marker))
        assert result.code == 4 and "not logged in" in result.err
    assert not marker.exists()


def test_options_after_the_program_are_the_programs(logged_in: Cli) -> None:
    result = logged_in.run("exec", "sh", "-c", 'echo "$@"', "sh", "--token", "-p", "x")
    assert result.code == 0 and result.out == "--token -p x\n", result


def test_the_proxy_stops_with_the_program(logged_in: Cli) -> None:
    """Once the job's output has ended (the proxy lets go of its stderr last), nothing listens."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    result = logged_in.run("exec", "--", "sh", "-c", 'echo "$AUTHCLI_API_URL"')
    url = result.out.strip()
    probe = subprocess.run(["curl", "-sS", url], capture_output=True, text=True)
    assert probe.returncode == 7  # connection refused: nothing listens there any more
