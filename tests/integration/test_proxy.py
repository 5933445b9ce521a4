"""`authcli proxy` under real clients (curl and httpx) against the dev server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Cli, DevServer, stop_process
from tests.helpers import Proxy, start_proxy
from tests.platforms import posix_only


@pytest.fixture
def proxy(cli: Cli, server: DevServer) -> Iterator[Proxy]:
    assert cli.login(server.url, "--storage", "file").code == 0
    running = start_proxy(cli)
    yield running
    stop_process(running.proc)


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=120)


def test_curl_reaches_the_api_through_the_proxy(cli: Cli, server: DevServer, proxy: Proxy) -> None:
    result = curl("-H", f"Authorization: Bearer {proxy.secret}", proxy.url + "/users/me")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["email"] == "alice@example.com"
    token = cli.run("token").out.strip()
    seen = server.seen()[-1]
    assert seen["authorization"] == f"Bearer {token}"  # the API got the session's token...
    assert proxy.secret not in json.dumps(server.seen())  # ...never the local secret


def test_bodies_stream_both_ways_unchanged(proxy: Proxy, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # above the replay limit: streamed
    auth = f"Authorization: Bearer {proxy.secret}"
    for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
        result = curl("-X", "PUT", "-H", auth, *extra, "--data-binary", f"@{upload}", proxy.url + "/echo?x=1")
        echoed = json.loads(result.stdout)
        assert echoed["body_sha256"] == hashlib.sha256(upload.read_bytes()).hexdigest(), extra
        assert echoed["method"] == "PUT" and echoed["query"] == {"x": "1"}
    size = 20 * 1024 * 1024
    download = curl("-H", auth, proxy.url + f"/bytes/{size}")
    assert download.stdout == (bytes(range(256)) * (size // 256))


def test_status_headers_and_redirects_pass_through(proxy: Proxy, server: DevServer) -> None:
    cases = [  # (path, status, what the client sees)
        ("/nowhere", 404, lambda r: r.json()["error"] == "not_found"),  # the API's own 404
        ("/status/503", 503, lambda r: r.json() == {"status": 503}),
        ("/status/204", 204, lambda r: r.content == b""),
        ("/items", 200, lambda r: r.headers["link"] == '</items?page=2>; rel="next"'),
        # A redirect on the API (relative or not) comes back pointing at the proxy; one elsewhere is left as it is.
        (f"/redirect?to={server.url}/users/me", 302, lambda r: r.headers["location"] == proxy.url + "/users/me"),
        ("/redirect?to=https://elsewhere.example/x", 302,
         lambda r: r.headers["location"] == "https://elsewhere.example/x"),
        ("/redirect?to=/users/me", 302, lambda r: r.headers["location"] == proxy.url + "/users/me"),  # relative
    ]
    for path, status, check in cases:
        response = proxy.get(path)
        assert response.status_code == status, path
        assert check(response), (path, response.headers)
        assert "access-control-allow-origin" not in response.headers


def test_httpx_follows_a_redirect_through_the_proxy(proxy: Proxy, server: DevServer) -> None:
    response = proxy.get(f"/redirect?to={server.url}/users/me", follow_redirects=True)
    assert response.status_code == 200 and response.json()["email"] == "alice@example.com"
    assert str(response.url) == proxy.url + "/users/me"


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_proxy_itself_refuses_what_it_must_not_forward(proxy: Proxy, server: DevServer) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    auth = f"Authorization: Bearer {proxy.secret}"
    cases = [  # (request, status it answers)
        (f"GET /users/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 401),  # no local secret
        (f"GET /users/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer wrong\r\n\r\n", 401),
        # The session's real token is no key to the proxy either.
        (f"GET /users/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {proxy.secret}\r\n\r\n", 401),
        (f"GET /users/me HTTP/1.1\r\nHost: attacker.example:{port}\r\n{auth}\r\n\r\n", 403),  # DNS rebinding
        (f"GET /users/me HTTP/1.1\r\n{auth}\r\n\r\n", 403),  # no Host at all
        (f"GET {server.url}/users/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n\r\n", 400),  # absolute form
        (f"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n{auth}\r\n\r\n", 405),
    ]
    before = server.stats()["api_requests"]
    for request, status in cases:
        answer = raw_request(proxy.url, request.encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == str(status).encode(), (request, head)
        assert json.loads(body)["message"].startswith("authcli proxy: ")
        assert b"access-control" not in head.lower()
    assert server.stats()["api_requests"] == before  # nothing reached the API


def test_localhost_is_the_proxys_own_host_too_and_a_path_never_leaves_the_api(proxy: Proxy) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    for target, status in (("/users/me", b"200"), ("//evil.example/users/me", b"404")):  # the API's own 404
        answer = raw_request(proxy.url, f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\nAuthorization: Bearer "
                                        f"{proxy.secret}\r\nConnection: close\r\n\r\n".encode())
        assert answer.split(b" ")[1] == status, answer
        assert b"no route GET /evil.example/users/me" in answer or status == b"200"


def test_a_401_from_the_api_gets_one_refresh_and_one_replay(proxy: Proxy, server: DevServer) -> None:
    server.revoke_access()  # the token in hand is dead before its expiry
    response = httpx.post(proxy.url + "/echo", content=b"twice", headers={"Authorization": f"Bearer {proxy.secret}"})
    assert response.status_code == 200 and response.json()["body"] == "twice"
    assert server.stats()["refreshes"] == 1


@pytest.mark.keyring
def test_on_the_real_keyring_too(cli: Cli, server: DevServer) -> None:
    """Token calls run on the proxy's main thread: the Secret Service connection is one thread's."""
    assert cli.login(server.url).code == 0
    running = start_proxy(cli)
    try:
        server.revoke_access()
        for _ in range(3):
            assert running.get("/users/me").status_code == 200
        assert server.stats()["refreshes"] == 1
        assert cli.keyring_entry() is not None and running.secret not in (cli.keyring_entry() or "")
    finally:
        stop_process(running.proc)


def test_an_api_that_rejects_every_token_does_not_cost_a_refresh_a_request(proxy: Proxy, server: DevServer) -> None:
    """/status/401 answers 401 to any token: the first one is refreshed and replayed once; the
    brand-new token being rejected too says it is not about the token."""
    for _ in range(5):
        assert proxy.get("/status/401").status_code == 401
    assert server.stats()["refreshes"] == 1
    server.revoke_access()  # the token in hand is dead now: renewed again once the pause is over
    assert proxy.get("/users/me").status_code == 401
    time.sleep(10.5)  # RENEW_PAUSE in proxy.py
    assert proxy.get("/users/me").status_code == 200
    assert server.stats()["refreshes"] == 2


def test_an_ended_session_answers_401_and_a_new_login_is_picked_up(cli: Cli, server: DevServer,
                                                                  proxy: Proxy) -> None:
    assert cli.run("logout").code == 0
    server.revoke_access()
    response = proxy.get("/users/me")
    assert response.status_code == 401
    assert "authcli login" in response.json()["message"]
    assert proxy.proc.poll() is None  # still serving
    assert cli.login(server.url, "--storage", "file").code == 0
    assert proxy.get("/users/me").status_code == 200  # no restart needed


def test_200_concurrent_requests_across_an_expiry_cause_one_refresh(cli: Cli, server: DevServer) -> None:
    server.configure(access_ttl=4)
    assert cli.login(server.url, "--storage", "file").code == 0
    running = start_proxy(cli, "--quiet")  # holds the 4-second token (its refresh margin is 2 s)
    server.configure(access_ttl=300)
    try:
        results: list[int] = []
        barrier = threading.Barrier(200)

        def one() -> None:
            with httpx.Client(timeout=120) as client:
                barrier.wait()
                response = client.get(running.url + "/users/me", headers={"Authorization": f"Bearer {running.secret}"})
                results.append(response.status_code)

        threading.Event().wait(4.2)
        threads = [threading.Thread(target=one) for _ in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert results == [200] * 200
        stats = server.stats()
        assert stats["refreshes"] == 1
        assert stats["reuse_detections"] == 0
    finally:
        stop_process(running.proc)


def test_one_line_per_request_on_stderr_and_never_a_token(cli: Cli, server: DevServer, proxy: Proxy) -> None:
    proxy.get("/items?page=2&api_key=not-for-logs")
    proxy.get("/nowhere")
    token = cli.run("token").out.strip()
    result = proxy.stop()
    assert result.code == 0
    lines = result.err.splitlines()
    assert lines[0].startswith("authcli: proxy for ")
    assert [line.rsplit(" ", 2)[0] for line in lines[1:]] == ["GET /items 200", "GET /nowhere 404"]
    assert token not in result.err and proxy.secret not in result.err and "not-for-logs" not in result.err


@posix_only("SIGINT, SIGTERM and SIGHUP sent to authcli")
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_stops_it_cleanly(proxy: Proxy, signum: str) -> None:
    result = proxy.stop(getattr(signal, signum))
    assert result.code == 0, result
    assert "Traceback" not in result.err
    with pytest.raises(httpx.ConnectError):
        proxy.get("/users/me")


def test_quiet_logs_nothing(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    running = start_proxy(cli, "--quiet")
    assert running.get("/users/me").status_code == 200
    result = running.stop()
    assert [line for line in result.err.splitlines() if "GET" in line] == []


@posix_only("Unix sockets")
def test_a_unix_socket_and_a_secret_file_both_0600_and_removed_at_exit(cli: Cli, server: DevServer,
                                                                         tmp_path: Path) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    sock, secret_file = tmp_path / "api.sock", tmp_path / "api.secret"
    running = start_proxy(cli, "--socket", str(sock), "--secret-file", str(secret_file))
    assert running.proc.stdout is not None
    for path in (sock, secret_file):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600, path
    secret = secret_file.read_text().strip()
    result = curl("--unix-socket", str(sock), "-H", f"Authorization: Bearer {secret}", "http://localhost/users/me")
    assert json.loads(result.stdout)["email"] == "alice@example.com"
    assert curl("--unix-socket", str(sock), "-o", "/dev/null", "-w", "%{http_code}",
                "http://localhost/users/me").stdout == b"401"
    stopped = running.stop()
    assert stopped.code == 0 and stopped.out == ""  # the URL line was read; the secret was never printed
    assert not sock.exists() and not secret_file.exists()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--port", "70000"], 2, "--port must be between 0 and 65535"),
    (["--port", "0", "--socket", "x.sock"], 2, "use --port or --socket, not both"),
    (["--timeout", "0"], 2, "--timeout must be a number of seconds"),
    (["--secret-file", "/nonexistent-dir/secret"], 2, "directory /nonexistent-dir does not exist"),
])
def test_bad_flags(cli: Cli, server: DevServer, args: list[str], code: int, message: str) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    result = cli.run("proxy", *args)
    assert result.code == code and message in result.err, result
    assert len(result.err.splitlines()) == 1


def test_without_a_session_it_does_not_start(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    assert cli.run("logout").code == 0
    result = cli.run("proxy")
    assert result.code == 4 and result.err == "authcli: not logged in; run authcli login\n"


@posix_only("Unix sockets")
def test_a_socket_path_in_use_is_refused_and_a_stale_one_replaced(cli: Cli, server: DevServer,
                                                                   tmp_path: Path) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    sock = tmp_path / "api.sock"
    first = start_proxy(cli, "--socket", str(sock))
    result = cli.run("proxy", "--socket", str(sock))
    assert result.code == 2 and "another process listens on" in result.err
    first.proc.kill()  # no clean-up: the socket file stays behind
    first.proc.wait()
    assert sock.exists()
    second = start_proxy(cli, "--socket", str(sock))
    assert second.stop().code == 0
    (tmp_path / "plain").write_text("x")
    result = cli.run("proxy", "--socket", str(tmp_path / "plain"))
    assert result.code == 2 and "exists and is not a socket" in result.err
