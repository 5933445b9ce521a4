"""Section 8 of the foundation issue: every bad input gets one line, its exit code, and
leaves the stored session exactly as it was."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

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
]


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
