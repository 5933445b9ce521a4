"""`authcli proxy` against other local users and hostile clients (issue 18).

Each test here failed against the proxy before these guards; the report that added them says
how each was seen to fail with its guard switched off.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Cli, DevServer, one_error_line, stop_process
from tests.helpers import Proxy, needs_root, start_proxy, wait_for

NOBODY = 65534


@pytest.fixture
def proxy(cli: Cli, server: DevServer) -> Iterator[Proxy]:
    assert cli.login(server.url, "--storage", "file").code == 0
    running = start_proxy(cli)
    yield running
    stop_process(running.proc)


def exchange(url: str, request: bytes, timeout: float = 30) -> tuple[bytes, bool]:
    """Send ``request`` on a fresh connection; everything answered, and whether the proxy
    closed the connection (rather than leaving it open, waiting)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            return b"".join(chunks), False
    return b"".join(chunks), True


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# -- 1. another local user ---------------------------------------------------------------

# Runs as uid 65534 with no site-packages: the secret comes on stdin, never argv.
AS_NOBODY = """
import socket, sys
where, target = sys.argv[1], sys.argv[2]
secret = sys.stdin.readline().strip()
if where == "unix":
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(target)
    host = "localhost"
else:
    host = target
    addr, port = target.split(":")
    conn = socket.create_connection((addr, int(port)))
conn.settimeout(30)
try:  # the proxy may answer 403 and close before it read the request: the answer still waits
    conn.sendall(f"GET /users/me HTTP/1.1\\r\\nHost: {host}\\r\\nAuthorization: Bearer {secret}\\r\\n"
                 f"Connection: close\\r\\n\\r\\n".encode())
except BrokenPipeError:
    pass
answer = b""
while chunk := conn.recv(65536):
    answer += chunk
sys.stdout.write(answer.decode("utf-8", "replace"))
"""


def as_nobody(where: str, target: str, secret: str) -> str:
    result = subprocess.run([sys.executable, "-I", "-S", "-c", AS_NOBODY, where, target], input=secret.encode() + b"\n",
                            capture_output=True, timeout=60, user=NOBODY, group=NOBODY, extra_groups=[])
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


@pytest.mark.parametrize("where", ["tcp", "unix"])
def test_another_local_user_is_refused_even_with_the_secret(cli: Cli, server: DevServer, where: str) -> None:
    needs_root("connect as another user")
    assert cli.login(server.url, "--storage", "file").code == 0
    reachable = Path(tempfile.mkdtemp(prefix="authcli-peer-"))
    try:
        reachable.chmod(0o711)  # uid 65534 may reach the socket in it
        sock = reachable / "api.sock"
        args = ["--socket", str(sock), "--secret-file", str(reachable / "secret")] if where == "unix" else []
        running = start_proxy(cli, *args)
        try:
            secret = (reachable / "secret").read_text().strip() if where == "unix" else running.secret
            if where == "unix":
                sock.chmod(0o666)  # not the file's mode: the peer's uid is what keeps them out
            target = str(sock) if where == "unix" else running.url.removeprefix("http://")
            before = server.stats()["api_requests"]
            answer = as_nobody(where, target, secret)
            assert answer.startswith("HTTP/1.1 403 "), answer
            body = json.loads(answer.partition("\r\n\r\n")[2])
            assert body["message"] == "authcli proxy: this proxy serves only the user who started it"
            assert server.stats()["api_requests"] == before  # nothing reached the API
        finally:
            stop_process(running.proc)
        if where == "tcp":  # the user who started it still gets through
            assert start_proxy(cli).stop().code == 0
    finally:
        for leftover in reachable.iterdir():
            leftover.unlink()
        reachable.rmdir()


def test_the_users_own_clients_still_get_through(proxy: Proxy) -> None:
    assert proxy.get("/users/me").json()["email"] == "alice@example.com"


# -- 6. a stale socket of another user ----------------------------------------------------

def test_a_socket_another_user_left_in_a_sticky_directory_is_named_not_removed(cli: Cli, server: DevServer) -> None:
    needs_root("leave a socket owned by another user")
    assert cli.login(server.url, "--storage", "file").code == 0
    sticky = Path(tempfile.mkdtemp(prefix="authcli-sticky-"))
    try:
        sticky.chmod(0o1777)
        sock = sticky / "api.sock"
        with socket.socket(socket.AF_UNIX) as left:
            left.bind(str(sock))  # nothing listens: a stale socket
        os.chown(sock, NOBODY, NOBODY)
        result = cli.run("proxy", "--socket", str(sock), timeout=30)
        assert result.code == 2, result
        name = __import__("pwd").getpwuid(NOBODY).pw_name
        assert one_error_line(result) == (f"authcli: {sock} is owned by user {name} ({NOBODY}); remove it or "
                                          "choose another --socket path")
        assert sock.exists()  # theirs to remove
    finally:
        for leftover in sticky.iterdir():
            leftover.unlink()
        sticky.rmdir()


# -- 2. idle and slow clients --------------------------------------------------------------

def test_idle_connections_neither_starve_a_client_nor_stay_open(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    running = start_proxy(cli, "--quiet", AUTHCLI_PROXY_HEAD_TIMEOUT="2")
    port = int(running.url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(200)]
    try:
        for conn in idle[::2]:  # half of them trickle a head that never ends
            conn.sendall(b"GET /users/me HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert running.get("/users/me", timeout=60).json()["email"] == "alice@example.com"
        for conn in idle:
            try:
                assert conn.recv(1024) == b""  # closed by the proxy, never answered
            except ConnectionResetError:
                pass
        assert server.stats()["api_requests"] == 1
    finally:
        for conn in idle:
            conn.close()
        stop_process(running.proc)


def test_connections_beyond_the_cap_get_503_until_some_close(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    running = start_proxy(cli, "--quiet", AUTHCLI_PROXY_MAX_CONNECTIONS="5")
    port = int(running.url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(5)]
    try:
        answer, closed = exchange(running.url, f"GET /users/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: "
                                               f"Bearer {running.secret}\r\n\r\n".encode())
        assert status_of(answer) == 503 and closed, answer
        assert b"5 connections are open already" in answer
        for conn in idle:
            conn.close()

        def served() -> bool:
            return running.get("/users/me").status_code == 200

        wait_for(served, "a connection slot after the idle ones closed")
    finally:
        for conn in idle:
            conn.close()
        stop_process(running.proc)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("AUTHCLI_PROXY_HEAD_TIMEOUT", "0", "AUTHCLI_PROXY_HEAD_TIMEOUT must be a number of seconds"),
    ("AUTHCLI_PROXY_MAX_CONNECTIONS", "many", "AUTHCLI_PROXY_MAX_CONNECTIONS='many' is not a number of connections"),
])
def test_bad_limits_are_usage_errors(cli: Cli, server: DevServer, name: str, value: str, message: str) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    result = cli.run("proxy", **{name: value})
    assert result.code == 2 and message in one_error_line(result), result


# -- 3. paths stay under api_url's path ------------------------------------------------------

def point_at(cli: Cli, api_url: str) -> None:
    """Change the profile's api_url after login (the session's origin stays the same)."""
    config = cli.home / "config.toml"
    text = config.read_text()
    start = text.index('api_url = "') + len('api_url = "')
    config.write_text(text[:start] + api_url + text[text.index('"', start):])


ESCAPES = [
    "/../admin", "/..", "/%2e%2e/admin", "/%2E%2E/admin", "/.%2e/admin", "/a/..%2f..%2fadmin", "/a/../../admin",
    "/a/%2e%2e/%2e%2e/admin", "/..;/admin", "/a\\..\\..\\admin", "/%252e%252e/admin", "/a/..%5c..%5cadmin",
    "/./../admin?x=1",
]


def test_a_path_that_climbs_out_of_api_urls_path_is_refused(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    point_at(cli, server.url + "/v1")
    running = start_proxy(cli)
    port = running.url.rsplit(":", 1)[1]
    try:
        before = server.stats()["api_requests"]
        for target in ESCAPES:
            answer, closed = exchange(running.url, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                                   f"Authorization: Bearer {running.secret}\r\n\r\n".encode())
            assert status_of(answer) == 400 and closed, (target, answer)
            assert b"leaves the profile's API" in answer, target
        assert server.stats()["api_requests"] == before  # never forwarded
        for target, seen in (("/a/../users/me", "/v1/users/me"), ("/items/%2e%2e", "/v1/items/%2e%2e")):
            running.get(target)  # under /v1 still: forwarded (the dev server has no /v1, so 404)
            assert server.seen()[-1]["path"] == seen, target
    finally:
        stop_process(running.proc)


# -- 4. relative redirects -------------------------------------------------------------------

class Redirecting(BaseHTTPRequestHandler):
    """An API under /v1 that redirects to ?to=..., and keeps Nagle's algorithm on."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self.send_response(302)
        self.send_header("Location", query["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirecting_api(cli: Cli, server: DevServer) -> Iterator[str]:
    """A session moved to an API whose URL is http://127.0.0.1:PORT/v1."""
    api = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{api.server_address[1]}"
    assert cli.login(server.url, "--storage", "file").code == 0
    record = cli.home / "state" / "tokens" / "default.json"
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "api_origin": origin}))
    point_at(cli, origin + "/v1")
    yield origin
    api.shutdown()
    api.server_close()


def test_relative_redirects_to_the_api_point_at_the_proxy(cli: Cli, redirecting_api: str) -> None:
    running = start_proxy(cli)
    try:
        cases = [  # Location the API sends -> what the client sees
            ("/v1/items/", running.url + "/items/"),
            ("items/2", running.url + "/x/items/2"),  # relative to the request's own path
            ("/v1?page=2", running.url + "?page=2"),
            ("/admin", redirecting_api + "/admin"),  # the API's origin, outside /v1: absolute, not via the proxy
            (redirecting_api + "/v1/items", running.url + "/items"),
            ("https://elsewhere.example/v1/x", "https://elsewhere.example/v1/x"),  # another origin: as it is
            ("//elsewhere.example/v1/x", "//elsewhere.example/v1/x"),
        ]
        for location, expected in cases:
            response = running.get("/x/r", params={"to": location})
            assert response.status_code == 302
            assert response.headers["location"] == expected, location
    finally:
        stop_process(running.proc)


# -- 5. request framing (RFC 9112) ---------------------------------------------------------

FRAMING = [  # (head lines after the request line, Host and Authorization; body; status)
    ("Transfer-Encoding: gzip, chunked", b"5\r\nhello\r\n0\r\n\r\n", 501),
    ("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n", 501),
    ("Transfer-Encoding: chunked, gzip", b"5\r\nhello\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding: identity", b"hello", 400),
    ("Transfer-Encoding: chunked, chunked", b"5\r\nhello\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding: chunked\r\nContent-Length: 5", b"5\r\nhello\r\n0\r\n\r\n", 400),
    ("Content-Length: 5\r\nTransfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding : chunked", b"5\r\nhello\r\n0\r\n\r\n", 400),
    ("Content-Length: +5", b"hello", 400),
    ("Content-Length: 5, 5", b"hello", 400),
    ("Content-Length: 5\r\nContent-Length: 5", b"hello", 400),
    ("Transfer-Encoding: chunked", b"+5\r\nhello\r\n0\r\n\r\n", 400),  # int() would take it
    ("Transfer-Encoding: chunked", b"zz\r\nhello\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding: chunked", b"5\r\nhelloXX0\r\n\r\n", 400),
]
SMUGGLED = b"GET /users/me HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(("head", "body", "status"), FRAMING)
def test_ambiguous_framing_is_refused_and_the_connection_closed(proxy: Proxy, server: DevServer, head: str,
                                                                body: bytes, status: int) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    before = server.stats()["api_requests"]
    request = (f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {proxy.secret}\r\n"
               f"{head}\r\n\r\n").encode() + body + SMUGGLED
    answer, closed = exchange(proxy.url, request)
    assert closed, f"left open after {answer!r}"
    assert answer.count(b"HTTP/1.1 ") == 1 and status_of(answer) == status, answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["message"].startswith("authcli proxy: ")
    assert server.stats()["api_requests"] in (before, before + 1)  # a bad chunk is seen once sent


def test_transfer_encoding_in_http_1_0_and_two_hosts_are_refused(proxy: Proxy) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    auth = f"Authorization: Bearer {proxy.secret}\r\n"
    for request in (f"POST /echo HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
                    "0\r\n\r\n",
                    f"GET /users/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n{auth}\r\n"):
        answer, closed = exchange(proxy.url, request.encode())
        assert status_of(answer) == 400 and closed, (request, answer)


def test_well_framed_bodies_still_pass(proxy: Proxy) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    head = f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {proxy.secret}\r\n"
    for framing, body in (("Transfer-Encoding: Chunked", b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"),
                          ("Content-Length: 5", b"hello")):
        answer, _ = exchange(proxy.url, f"{head}{framing}\r\nConnection: close\r\n\r\n".encode() + body)
        assert status_of(answer) == 200, answer
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["body"] == "hello"


# -- 8. a logout (or a login as someone else) counts at once -------------------------------

def test_a_logout_elsewhere_ends_the_session_in_the_proxy(cli: Cli, server: DevServer, proxy: Proxy) -> None:
    assert proxy.get("/users/me").status_code == 200
    assert cli.run("logout").code == 0  # the access token itself stays valid at the API for a while
    response = proxy.get("/users/me")
    assert response.status_code == 401
    assert response.json() == {"error": "not_logged_in", "message": "authcli proxy: not logged in; run authcli login"}
    before = server.stats()["api_requests"]
    assert proxy.get("/users/me").status_code == 401 and server.stats()["api_requests"] == before
    assert cli.run("login", "--api-url", server.url, "--email", "bob@example.com", "--password-stdin",
                   "--storage", "file", input="bob-password\n").code == 0
    assert proxy.get("/users/me").json()["email"] == "bob@example.com"


def test_a_login_as_someone_else_is_used_from_the_next_request(cli: Cli, server: DevServer, proxy: Proxy) -> None:
    assert proxy.get("/users/me").json()["email"] == "alice@example.com"
    assert cli.run("login", "--api-url", server.url, "--email", "bob@example.com", "--password-stdin",
                   "--storage", "file", input="bob-password\n").code == 0
    assert proxy.get("/users/me").json()["email"] == "bob@example.com"
    assert cli.run("token").out.strip() in server.seen()[-1]["authorization"]


def test_exec_notices_a_login_and_a_logout_too(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    """exec runs the same proxy: its program's next request after a login as someone else
    carries their token, and the one after a logout is refused without reaching the API."""
    assert cli.login(server.url, "--storage", "file").code == 0
    script = tmp_path / "client.py"
    script.write_text(
        "import os, subprocess, sys, httpx\n"
        "authcli, api = sys.argv[1], sys.argv[2]\n"
        "url, secret = os.environ['AUTHCLI_API_URL'], os.environ['AUTHCLI_API_TOKEN']\n"
        "def get():\n"
        "    response = httpx.get(url + '/users/me', headers={'Authorization': f'Bearer {secret}'})\n"
        "    print(response.json().get('email', response.status_code))\n"
        "get()\n"
        "subprocess.run([authcli, 'login', '--api-url', api, '--email', 'bob@example.com', '--password-stdin',\n"
        "                '--storage', 'file'], input='bob-password\\n', text=True, check=True, capture_output=True)\n"
        "get()\n"
        "subprocess.run([authcli, 'logout'], check=True, capture_output=True)\n"
        "get()\n")
    before = server.stats()["api_requests"]
    result = cli.run("exec", "--", sys.executable, str(script), str(Path(sys.executable).parent / "authcli"),
                     server.url)
    assert result.code == 0, result
    assert result.out.split() == ["alice@example.com", "bob@example.com", "401"]
    assert server.stats()["api_requests"] == before + 2
