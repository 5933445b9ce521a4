"""Section 8 of the foundation issue: every bad input gets one line, its exit code, and
leaves the stored session exactly as it was."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUTHCLI as AUTHCLI_PATH
from tests.conftest import FAIL_BACKEND, Cli, DevServer, one_error_line


class HtmlHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), HtmlHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Case:
    name: str
    args: Callable[[DevServer, str], list[str]]
    code: int
    message: str
    prepare: Callable[[Cli], None] = lambda cli: None
    env: dict[str, str] | None = None
    stdin: str = ""


def corrupt_config(cli: Cli) -> None:
    (cli.home / "config.toml").write_text("[profiles.default\napi_url = ")


def corrupt_token_file(cli: Cli) -> None:
    (cli.home / "state" / "tokens" / "default.json").write_text('{"version": 1, "access_token": ')


def foreign_token_file(cli: Cli) -> None:
    (cli.home / "state" / "tokens" / "default.json").write_text('{"token": "abc"}')


CASES = [
    Case("wrong password", lambda s, h: ["login", "--api-url", s.url, "--email", "alice@example.com",
                                         "--password-stdin", "--storage", "file"],
         4, "authcli: login failed: wrong email or password", stdin="nope\n"),
    Case("http to a non-loopback host", lambda s, h: ["login", "--api-url", "http://api.example.com",
                                                      "--email", "a@b.c", "--password-stdin"],
         2, "refusing http:// for api.example.com", stdin="pw\n"),
    Case("unknown profile", lambda s, h: ["whoami", "--profile", "nope"], 2, "unknown profile 'nope'"),
    Case("unknown profile to make current", lambda s, h: ["profiles", "use", "nope"], 2, "unknown profile 'nope'"),
    Case("unknown profile from the environment", lambda s, h: ["token"], 2, "unknown profile 'ghost'",
         env={"AUTHCLI_PROFILE": "ghost"}),
    Case("corrupt config, whoami", lambda s, h: ["whoami"], 2, "is not valid TOML", prepare=corrupt_config),
    Case("corrupt config, login", lambda s, h: ["login", "--api-url", s.url, "--email", "alice@example.com",
                                                "--password-stdin", "--storage", "file"],
         2, "is not valid TOML", prepare=corrupt_config, stdin="alice-password\n"),
    Case("corrupt token file", lambda s, h: ["token"], 6, "stored session for profile 'default'",
         prepare=corrupt_token_file),
    Case("foreign token file", lambda s, h: ["whoami"], 6, "is unreadable (not an authcli record",
         prepare=foreign_token_file),
    Case("no keyring available", lambda s, h: ["login", "--api-url", s.url, "--email", "alice@example.com",
                                               "--password-stdin", "--storage", "keyring"],
         6, "no OS keyring is available", env={"PYTHON_KEYRING_BACKEND": FAIL_BACKEND}, stdin="alice-password\n"),
    Case("server down", lambda s, h: ["login", "--api-url", f"http://127.0.0.1:{closed_port()}",
                                      "--email", "alice@example.com", "--password-stdin", "--storage", "file"],
         5, "(connection refused)", stdin="alice-password\n"),
    Case("server answers HTML", lambda s, h: ["login", "--api-url", h, "--email", "alice@example.com",
                                              "--password-stdin", "--storage", "file"],
         5, "text/html", stdin="alice-password\n"),
    Case("no password and no terminal", lambda s, h: ["login", "--api-url", s.url, "--email", "alice@example.com"],
         2, "pipe it in with --password-stdin"),
    Case("no email and no terminal", lambda s, h: ["login", "--api-url", s.url, "--password-stdin"],
         2, "pass --email EMAIL", stdin="pw\n"),
    Case("unknown flag", lambda s, h: ["login", "--password", "hunter2"], 2, "No such option: --password"),
    Case("bad storage", lambda s, h: ["login", "--storage", "floppy", "--api-url", s.url], 2, "unknown storage"),
    Case("bad lock timeout", lambda s, h: ["token"], 2, "AUTHCLI_LOCK_TIMEOUT='soon' is not a number",
         env={"AUTHCLI_LOCK_TIMEOUT": "soon"}),
    Case("bad profile name", lambda s, h: ["login", "--profile", "../etc", "--api-url", s.url], 2,
         "invalid profile name"),
    # issue 10, section 6: each of these was "unexpected error", exit 1
    *[Case(f"API URL {url!r}", lambda s, h, url=url: login_to(url), 2, why, stdin="pw\n") for url, why in [
        ("https://256.256.256.256", "not a valid IPv4 address"),
        ("https://a..b", "empty label"),
        (f"https://{'a' * 64}.example.com", "longer than 63 characters"),
        ("https://exa\x01mple.com", "control characters"),
        ("https://api.example.com/a\nb", "control characters"),
    ]],
    Case("a tab in a call path", lambda s, h: ["call", "/users\tme"], 2, "control characters"),
    Case("a port after the port", lambda s, h: ["call", s.url + ":80/x"], 2, "invalid URL"),
    Case("a non-ASCII header value", lambda s, h: ["call", "/users/me", "-H", "X-Name: é"], 2, "printable ASCII"),
    Case("-o names a directory", lambda s, h: ["call", "/users/me", "-o", "."], 2, "is a directory"),
    *[Case(f"--min-ttl {value}", lambda s, h, value=value: ["token", "--min-ttl", value], 2, "--min-ttl must be")
      for value in ("nan", "inf", "-1")],
    *[Case(f"--timeout {value}", lambda s, h, value=value: ["call", "/users/me", "--timeout", value], 2,
           "--timeout must be") for value in ("nan", "inf", "1e300")],
    Case("AUTHCLI_TIMEOUT=nan", lambda s, h: ["token"], 2, "AUTHCLI_TIMEOUT must be", env={"AUTHCLI_TIMEOUT": "nan"}),
]


def login_to(url: str) -> list[str]:
    return ["login", "--api-url", url, "--email", "a@example.com", "--password-stdin", "--storage", "file"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(cli: Cli, server: DevServer, html_server: str, case: Case) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    case.prepare(cli)
    before = cli.snapshot()
    result = cli.run(*case.args(server, html_server), input=case.stdin, **(case.env or {}))
    assert result.code == case.code, result
    assert case.message in one_error_line(result)
    assert result.out == ""
    assert cli.snapshot() == before, "the stored state changed"


@pytest.mark.keyring
def test_foreign_keyring_entry_is_reported_and_kept(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url).code == 0
    cli.set_keyring_entry("hunter2")
    result = cli.run("token")
    assert result.code == 6
    assert "is unreadable" in one_error_line(result)
    assert cli.keyring_entry() == "hunter2"
    # login replaces it
    assert cli.login(server.url).code == 0
    assert cli.run("token").code == 0


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli.run("--debug", "whoami", "--profile", "nope")
    assert result.code != 0
    assert "Traceback" in result.err


def test_a_non_utf8_password_is_refused_without_showing_it(cli: Cli, server: DevServer) -> None:
    import subprocess

    from tests.conftest import AUTHCLI

    proc = subprocess.run([AUTHCLI, *login_to(server.url)], input=b"caf\xe9-secret\n", capture_output=True,
                          env=cli.env, timeout=60)
    assert proc.returncode == 2
    err = proc.stderr.decode("utf-8", "replace")
    assert err.startswith("authcli: --password-stdin: standard input is not UTF-8 text") and err.count("\n") == 1
    assert "secret" not in err and "caf" not in err
    assert not (cli.home / "config.toml").exists()


def test_a_read_only_config_dir_saves_no_tokens(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    """The config dir and the state dir apart (XDG, no AUTHCLI_CONFIG_DIR), the config dir read-only:
    login fails with exit 6, and no token is left in the state dir for a profile nobody lists."""
    import subprocess

    config, state = tmp_path / "xdg-config", tmp_path / "xdg-state"
    (config / "authcli").mkdir(parents=True, mode=0o700)
    state.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k,mode=0700", "tmpfs", str(config / "authcli")],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        if os.environ.get("AUTHCLI_REQUIRE_ROOT") == "1":
            pytest.fail(f"cannot mount a read-only tmpfs: {mounted.stderr}")
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        env = {k: v for k, v in cli.env.items() if k != "AUTHCLI_CONFIG_DIR"}
        env.update(XDG_CONFIG_HOME=str(config), XDG_STATE_HOME=str(state))
        proc = subprocess.run([AUTHCLI_PATH, "login", "--api-url", server.url, "--email", "alice@example.com",
                               "--password-stdin", "--storage", "file"], input="alice-password\n", capture_output=True,
                              text=True, env=env, timeout=60)
        assert proc.returncode == 6, proc
        assert proc.stderr.startswith("authcli: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert [p for p in state.rglob("*.json")] == []
    finally:
        subprocess.run(["umount", "-l", str(config / "authcli")], check=False)


def _blocked_lock(cli: Cli) -> Any:
    """Hold the profile lock from outside, so a command that needs it waits."""
    from filelock import FileLock

    lock = FileLock(str(cli.home / "state" / "locks" / "default.lock"))
    lock.acquire()
    return lock


INTERRUPTS = [
    ("token", ["token"], True),
    ("refresh", ["refresh"], True),
    ("whoami --verify", ["whoami", "--verify"], True),
    ("call", ["call", "/slow?seconds=60"], False),
    ("login", ["login", "--email", "alice@example.com", "--password-stdin"], False),
    ("logout", ["logout"], True),
    ("profiles remove", ["profiles", "remove", "default"], True),
]


@pytest.mark.parametrize(("name", "args", "needs_lock"), INTERRUPTS, ids=[i[0] for i in INTERRUPTS])
def test_ctrl_c_is_one_line_and_exit_130_in_every_command(cli: Cli, server: DevServer, name: str, args: list[str],
                                                          needs_lock: bool) -> None:
    import signal
    import subprocess
    import time

    from tests.helpers import expired_session

    expired_session(cli, server)
    lock = _blocked_lock(cli) if needs_lock else None
    try:
        proc = subprocess.Popen([AUTHCLI_PATH, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=cli.env)
        time.sleep(1.5)  # let it block (on the lock, the server or stdin): a wait, not an assertion
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if lock is not None:
            lock.release()
    assert proc.returncode == 130, (name, err)
    assert err == "authcli: interrupted\n", err
    assert out == ""


def test_profiles_lists_every_profile_even_when_one_is_broken(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    with open(cli.home / "config.toml", "a") as config:
        config.write('\n[profiles."../evil"]\napi_url = "http://127.0.0.1:1"\nstorage = "file"\n'
                     '\n[profiles.nokeyring]\napi_url = "http://127.0.0.1:1"\nstorage = "keyring"\n')
    listed = cli.run("profiles", "--json", PYTHON_KEYRING_BACKEND=FAIL_BACKEND)
    assert listed.code == 0, listed
    rows = {row["name"]: row for row in json.loads(listed.out)}
    assert rows["default"]["session"] == "active"
    assert "invalid profile name" in rows["../evil"]["error"]
    assert "no OS keyring" in rows["nokeyring"]["error"]
    table = cli.run("profiles", PYTHON_KEYRING_BACKEND=FAIL_BACKEND)
    assert table.code == 0 and "invalid profile name" in table.out and "active" in table.out


def test_server_text_reaches_the_terminal_neutralised(cli: Cli, server: DevServer) -> None:
    """An error message with escape sequences is shown, not obeyed."""
    from tests.helpers import expired_session

    expired_session(cli, server)
    server.fault(mode="status", status=400, times=1,
                 body={"error": "invalid_request", "error_description": "bad \x1b[2J\x1b]0;pwned\x07 request"})
    result = cli.run("token")
    assert result.code == 4, result
    line = one_error_line(result)
    assert "\x1b" not in line and "\x07" not in line and "\\x1b[2J" in line


@pytest.mark.parametrize(("edit", "problem"), [
    ("{url}/v1?debug=1", "no query or fragment allowed"),
    ("{url}/v1#frag", "no query or fragment allowed"),
    ("http://user:pw@{host}", "must not contain a user name or password"),
    ("ftp://{host}", "expected https://host[/path]"),
    ("http://api.example.com", "refusing http:// for api.example.com"),
])
def test_a_hand_edited_api_url_is_held_to_logins_rules(cli: Cli, server: DevServer, edit: str, problem: str) -> None:
    logged_in = cli
    assert cli.login(server.url, "--storage", "file").code == 0
    config = logged_in.home / "config.toml"
    host = server.url.split("://", 1)[1]
    config.write_text(config.read_text().replace(f'"{server.url}"', '"' + edit.format(url=server.url, host=host) + '"'))
    for args in (["token"], ["call", "/users/me"], ["whoami"]):
        result = logged_in.run(*args)
        assert result.code == 2, result
        line = one_error_line(result)
        assert f"config file {config}: profiles.default.api_url:" in line and problem in line, line
    assert server.stats().get("api_requests", 0) == 0  # nothing was sent
    # The profile can still be mended, or its session ended.
    assert logged_in.run("logout").code == 0
    assert logged_in.login(server.url, "--storage", "file").code == 0
    assert logged_in.run("token").code == 0


def run_argv(cli: Cli, *args: bytes) -> subprocess.CompletedProcess[bytes]:
    """authcli with raw bytes on its command line, as a shell passes them."""
    return subprocess.run([AUTHCLI_PATH.encode(), *args], capture_output=True, env=cli.env, timeout=60)


@pytest.mark.parametrize(("args", "named"), [
    ([b"call", b"/users/\xff\xfe"], b"the PATH argument '/users/\\xff\\xfe' is not valid UTF-8"),
    ([b"call", b"GET", b"/caf\xe9"], b"the PATH argument '/caf\\xe9' is not valid UTF-8"),
    ([b"call", b"/users/me", b"-q", b"name=\xff"], b"the query parameter 'name=\\xff' is not valid UTF-8"),
])
def test_non_utf8_arguments_are_named(cli: Cli, server: DevServer, args: list[bytes], named: bytes) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    result = run_argv(cli, *args)
    assert result.returncode == 2, result
    assert result.stderr.count(b"\n") == 1 and named in result.stderr, result.stderr
    assert server.stats().get("api_requests", 0) == 0


@pytest.mark.parametrize("args", [
    ["exec", "--", "true", "--debug"],  # the program's argument
    ["call", "/users/me", "-H", "--debug"],  # a header value
    ["token", "--profile", "--debug"],
])
def test_debug_counts_only_as_the_global_option(cli: Cli, args: list[str]) -> None:
    result = cli.run(*args)
    assert result.code in (2, 4), result
    assert "Traceback" not in result.err and result.err.startswith("authcli: "), result
    assert result.err.count("\n") == 1


def test_debug_before_the_command_word_shows_the_traceback(cli: Cli) -> None:
    result = cli.run("--debug", "exec", "--", "true")
    assert result.code != 0 and "Traceback" in result.err
