"""authcli call through the real executable against the dev server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, Cli, DevServer, one_error_line
from tests.helpers import expired_session, parallel, wait_for
from tests.platforms import POSIX_MODES, posix_only


def run_bytes(cli: Cli, *args: str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([AUTHCLI, *args], input=stdin, capture_output=True, env={**cli.env, **env}, timeout=120)


# -- status codes and --fail -----------------------------------------------------------------

STATUS_CASES = [
    # path, extra args, exit code, stdout contains, stderr
    ("/status/200", [], 0, '{"status": 200}', ""),
    ("/status/204", [], 0, "", ""),
    ("/status/301", [], 0, '"email": "alice@example.com"', ""),  # followed to /users/me
    ("/status/404", [], 1, '{"status": 404}', "authcli: HTTP 404 Not Found\n"),
    ("/status/500", [], 1, '{"status": 500}', "authcli: HTTP 500 Internal Server Error\n"),
    ("/status/404", ["--no-fail"], 0, '{"status": 404}', ""),
    ("/status/500", ["--no-fail"], 0, '{"status": 500}', ""),
]


@pytest.mark.parametrize(("path", "extra", "code", "out", "err"), STATUS_CASES,
                         ids=[f"{c[0]}{' '.join(c[1])}" for c in STATUS_CASES])
def test_status_codes(logged_in: Cli, path: str, extra: list[str], code: int, out: str, err: str) -> None:
    result = logged_in.run("call", path, *extra)
    assert result.code == code, result
    assert out in result.out
    if not out:
        assert result.out == ""
    assert result.err == err


def test_include_prints_status_and_headers(logged_in: Cli) -> None:
    out = run_bytes(logged_in, "call", "-i", "/status/404", "--no-fail").stdout.decode()
    head, _, body = out.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 404 Not Found\r\n")
    assert "content-type: application/json" in head.lower()
    assert json.loads(body) == {"status": 404}


# -- bodies, byte-exact ----------------------------------------------------------------------

def test_binary_response_is_byte_exact_through_a_pipe(logged_in: Cli) -> None:
    size = 1_000_003
    result = run_bytes(logged_in, "call", f"/bytes/{size}")
    assert result.returncode == 0
    assert result.stdout == (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.mark.parametrize("source", ["stdin", "file", "text"])
def test_request_body_arrives_byte_exact(logged_in: Cli, tmp_path: Path, source: str) -> None:
    payload = os.urandom(300_000) if source != "text" else "héllo wörld".encode()
    if source == "stdin":
        result = run_bytes(logged_in, "call", "POST", "/echo", "--data", "@-", stdin=payload)
    elif source == "file":
        path = tmp_path / "upload.bin"
        path.write_bytes(payload)
        result = run_bytes(logged_in, "call", "POST", "/echo", "--data", f"@{path}")
    else:
        result = run_bytes(logged_in, "call", "/echo", "-d", payload.decode())
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    assert echo["method"] == "POST"  # a body makes the default method POST
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()


def test_fields_are_typed_json(logged_in: Cli, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("from a file\n")
    result = logged_in.run("call", "POST", "/echo", "-f", "n=42", "-f", "x=1.5", "-f", "t=true", "-f", "z=null",
                           "-f", "s=hello", "-f", "num_str=007", "-f", f"note=@{note}", "-f", 'raw:={"a": [1, 2]}')
    echo = json.loads(result.out)
    assert json.loads(echo["body"]) == {"n": 42, "x": 1.5, "t": True, "z": None, "s": "hello", "num_str": "007",
                                        "note": "from a file\n", "raw": {"a": [1, 2]}}
    assert echo["headers"]["Content-Type"] == "application/json"


def test_user_content_type_wins(logged_in: Cli) -> None:
    echo = json.loads(logged_in.run("call", "PUT", "/echo", "-f", "a=1", "-H", "Content-Type: application/merge-patch+json").out)
    assert echo["headers"]["Content-Type"] == "application/merge-patch+json"
    assert echo["method"] == "PUT"


def test_query_and_headers(logged_in: Cli) -> None:
    echo = json.loads(logged_in.run("call", "/echo?limit=5", "-q", "q=a b&c=d", "-q", "tag=x", "-q", "tag=y",
                                    "-H", "X-Trace: 123", "-H", "Accept: application/json").out)
    assert echo["query"] == {"limit": "5", "q": "a b&c=d", "tag": ["x", "y"]}
    assert echo["headers"]["X-Trace"] == "123"
    assert echo["method"] == "GET"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/echo", "-H", "X-Evil: a\r\nInjected: b"], "must not contain a line break"),
        (["/echo", "-H", "Authorization: Bearer mine"], "refusing the Authorization header"),
        (["/echo", "-H", "authorization: Basic x"], "refusing the authorization header"),
        (["/echo", "-d", "x", "-f", "a=1"], "use --data or --field, not both"),
        (["https://evil.example.com/steal"], "refusing to call https://evil.example.com:443"),
        (["/echo", "-H", "NoColon"], "expected 'Name: value'"),
        (["/echo", "-q", "novalue"], "expected key=value"),
        (["/echo", "-f", "raw:={bad"], "invalid JSON"),
        (["/echo", "-d", "@/no/such/file"], "cannot read /no/such/file"),
        (["GE T", "/echo"], "invalid HTTP method"),
        (["/echo", "--timeout", "0"], "--timeout must be a number of seconds above 0"),
    ],
)
def test_refused_requests(logged_in: Cli, server: DevServer, args: list[str], message: str) -> None:
    result = logged_in.run("call", *args)
    assert result.code == 2, result
    assert message in one_error_line(result)
    assert server.stats()["api_requests"] == 0


def test_absolute_url_on_the_api_origin_is_fine(logged_in: Cli, server: DevServer) -> None:
    assert logged_in.run("call", f"{server.url}/users/me").code == 0


# -- the token goes nowhere but its API ------------------------------------------------------

def test_token_never_reaches_another_origin(logged_in: Cli, server: DevServer,
                                            start_server: Callable[..., DevServer]) -> None:
    other = start_server()
    redirected = logged_in.run("call", f"/redirect?to={other.url}/echo")
    assert redirected.code == 1  # the other origin answers 401: it got no token
    assert "HTTP 401" in redirected.err
    assert logged_in.run("call", f"/redirect?to={other.url}/echo&status=307", "-d", "x").code == 1
    refused = logged_in.run("call", f"{other.url}/echo")
    assert refused.code == 2
    assert other.seen() == []  # not one Authorization header arrived there
    assert len(server.seen()) >= 2  # while the API itself got its token


def test_the_leak_detector_works_when_the_protection_is_off(logged_in: Cli, server: DevServer,
                                                            start_server: Callable[..., DevServer],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch SessionAuth's origin check off (in-process) and the same redirect leaks the token."""
    from authcli import auth
    from authcli.commands.call import CallOptions, run
    from authcli.context import Context
    from authcli.iostreams import IOStreams

    other = start_server()
    monkeypatch.setattr(auth.SessionAuth, "sync_auth_flow", _leaky_flow)
    ctx = Context(io=IOStreams.test(), env=logged_in.env)
    run(CallOptions(f"/redirect?to={other.url}/echo", fail=False), ctx)
    assert [s["authorization"] for s in other.seen()] != []


def _leaky_flow(self, request):  # type: ignore[no-untyped-def]
    """SessionAuth without its origin check."""
    request.headers["Authorization"] = f"Bearer {self.session.access_token()}"
    yield request


# -- refresh through call ----------------------------------------------------------------------

def test_401_mid_session_refreshes_once_and_retries(logged_in: Cli, server: DevServer) -> None:
    server.revoke_access()
    result = logged_in.run("call", "/users/me")
    assert result.code == 0, result
    stats = server.stats()
    assert (stats["refreshes"], stats["api_unauthorized"]) == (1, 1)


def test_401_replays_a_file_upload(logged_in: Cli, server: DevServer, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    payload = os.urandom(2_000_000)
    path.write_bytes(payload)
    server.revoke_access()
    result = run_bytes(logged_in, "call", "POST", "/echo", "--data", f"@{path}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["body_sha256"] == hashlib.sha256(payload).hexdigest()


def test_stdin_is_spooled_with_a_length_and_replayed_after_a_401(logged_in: Cli, server: DevServer) -> None:
    server.revoke_access()
    payload = os.urandom(5 * 1024 * 1024)  # over the in-memory limit: spooled to a temp file
    result = run_bytes(logged_in, "call", "POST", "/echo", "--data", "@-", stdin=payload)
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    assert echo["headers"].get("Content-Length") == str(len(payload))
    assert "Transfer-Encoding" not in echo["headers"]
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert server.stats()["refreshes"] == 1


def test_401_with_a_chunked_stdin_body_is_not_replayed(logged_in: Cli, server: DevServer) -> None:
    server.revoke_access()
    result = run_bytes(logged_in, "call", "POST", "/echo", "--data", "@-", "--chunked", stdin=b"once")
    assert result.returncode == 1
    assert b"cannot be sent again; run the command again" in result.stderr
    assert server.stats()["refreshes"] == 1
    again = run_bytes(logged_in, "call", "POST", "/echo", "--data", "@-", "--chunked", stdin=b"once")
    assert again.returncode == 0  # the refresh was kept for the next run
    assert server.stats()["refreshes"] == 1


def test_rejected_refresh_ends_the_session(logged_in: Cli, server: DevServer) -> None:
    server.revoke_access()
    server.fault(mode="status", status=400, body={"error": "invalid_grant"}, times=1)
    result = logged_in.run("call", "/users/me")
    assert result.code == 4
    assert one_error_line(result) == "authcli: session expired, run authcli login"


def test_50_parallel_calls_with_an_expired_token(cli: Cli, server: DevServer) -> None:
    server.configure(refresh_delay=0.5)
    expired_session(cli, server)
    results = parallel(cli, 50, "call", "/users/me")
    assert all(r.code == 0 and "alice@example.com" in r.out for r in results), results[:3]
    stats = server.stats()
    assert (stats["refreshes"], stats["reuse_detections"]) == (1, 0)


def test_verbose_never_shows_the_token(logged_in: Cli, server: DevServer) -> None:
    server.revoke_access()  # a 401, a refresh and a retry, all traced
    result = logged_in.run("call", "-v", "/users/me")
    assert result.code == 0
    token = logged_in.run("token").out.strip()
    assert "authorization: Bearer ***" in result.err
    assert token not in result.err and token.split(".")[2] not in result.err
    assert "< HTTP/1.1 401" in result.err and "< HTTP/1.1 200" in result.err


# -- retries ---------------------------------------------------------------------------------

def test_retry_honours_retry_after(logged_in: Cli, server: DevServer) -> None:
    server.fault(target="flaky", times=1)
    result = logged_in.run("call", "/flaky", "--retry", "2")
    assert result.code == 0, result
    assert "HTTP 429; retrying in 1s (1/2)" in result.err
    assert json.loads(result.out) == {"flaky": "ok"}


@pytest.mark.parametrize(("args", "code"), [
    (["/flaky"], 1),                                   # no --retry
    (["POST", "/flaky", "--retry", "2"], 1),           # not idempotent
    (["POST", "/flaky", "--retry", "2", "--retry-all"], 0),
])
def test_retry_only_where_allowed(logged_in: Cli, server: DevServer, args: list[str], code: int) -> None:
    server.fault(target="flaky", times=1)
    assert logged_in.run("call", *args).code == code


# -- pagination, output files, network errors ------------------------------------------------

def test_paginate_concatenates_json_arrays(logged_in: Cli) -> None:
    result = logged_in.run("call", "/items", "--paginate")
    assert result.code == 0
    assert [item["id"] for item in json.loads(result.out)] == list(range(1, 13))
    assert len(json.loads(logged_in.run("call", "/items").out)) == 5


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


def test_paginate_stops_at_an_error_page_and_keeps_what_it_had(logged_in: Cli) -> None:
    result = logged_in.run("call", "/items?fail_page=2", "--paginate")
    assert result.code == 1
    first, second = result.out.splitlines()
    assert [item["id"] for item in json.loads(first)] == [1, 2, 3, 4, 5]
    assert json.loads(second)["message"] == "page 2 failed"
    assert one_error_line(result) == "authcli: HTTP 500 Internal Server Error"


def test_output_file(logged_in: Cli, out_dir: Path) -> None:
    target = out_dir / "out.bin"
    result = logged_in.run("call", "/bytes/100000", "-o", str(target))
    assert result.code == 0 and result.out == "" and result.err == ""
    assert target.read_bytes() == (bytes(range(256)) * 400)[:100000]
    assert [p.name for p in out_dir.iterdir()] == ["out.bin"]
    if POSIX_MODES:
        assert target.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def test_output_file_not_written_on_http_error(logged_in: Cli, out_dir: Path) -> None:
    target = out_dir / "out.json"
    result = logged_in.run("call", "/status/404", "-o", str(target))
    assert result.code == 1
    assert not target.exists() and list(out_dir.iterdir()) == []
    assert '{"status": 404}' in result.out


@posix_only("SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to authcli")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_interrupted_download_leaves_no_file(logged_in: Cli, out_dir: Path, sig: str) -> None:
    target = out_dir / "big.bin"
    proc = logged_in.popen("call", "/drip?bytes=50000000&delay=0.05", "-o", str(target))
    wait_for(lambda: any(p.name.endswith(".part") and p.stat().st_size > 0 for p in out_dir.iterdir()),
             "the download to start")
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert list(out_dir.iterdir()) == []


@posix_only("/dev/null and a FIFO")
def test_output_to_a_device_or_fifo_writes_in_place(logged_in: Cli, tmp_path: Path) -> None:
    """-o /dev/null (as root too) and a FIFO are written, never replaced by a regular file."""
    null = logged_in.run("call", "/bytes/1000", "-o", "/dev/null")
    assert null.code == 0, null
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.stat("/dev/null").st_mode & 0o777 == 0o666
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    through = logged_in.run("call", "/bytes/300", "-o", str(fifo))
    reader.join(timeout=30)
    assert through.code == 0, through
    assert received == [(bytes(range(256)) * 2)[:300]]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@posix_only("a symbolic link and permission bits")
def test_output_through_a_symlink_keeps_the_link_and_an_existing_file_keeps_its_mode(
        logged_in: Cli, out_dir: Path) -> None:
    real = out_dir / "real.bin"
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = out_dir / "link.bin"
    link.symlink_to(real)
    result = logged_in.run("call", "/bytes/10", "-o", str(link))
    assert result.code == 0, result
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == bytes(range(10))
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in out_dir.iterdir()) == ["link.bin", "real.bin"]


def test_output_to_a_directory_is_a_usage_error(logged_in: Cli, out_dir: Path) -> None:
    result = logged_in.run("call", "/bytes/10", "-o", str(out_dir))
    assert result.code == 2
    assert "is a directory" in one_error_line(result)
    assert list(out_dir.iterdir()) == []


def test_paginate_writes_the_merged_result_to_the_output_file(logged_in: Cli, out_dir: Path) -> None:
    target = out_dir / "items.json"
    result = logged_in.run("call", "/items", "--paginate", "-o", str(target))
    assert result.code == 0, result
    assert result.out == ""
    assert json.loads(target.read_text()) == json.loads(logged_in.run("call", "/items", "--paginate").out)
    assert [p.name for p in out_dir.iterdir()] == ["items.json"]


def test_network_errors_are_exit_5(logged_in: Cli, server: DevServer) -> None:
    slow = logged_in.run("call", "/slow?seconds=3", "--timeout", "0.5")
    assert slow.code == 5
    assert "timed out after 0.5s" in one_error_line(slow)
    server.proc.kill()
    server.proc.wait()
    down = logged_in.run("call", "/users/me")
    assert down.code == 5
    assert "(connection refused)" in one_error_line(down)


def test_not_logged_in(cli: Cli) -> None:
    result = cli.run("call", "/users/me")
    assert result.code == 4
    assert "not logged in" in one_error_line(result)


def test_too_many_redirects(logged_in: Cli, server: DevServer) -> None:
    result = logged_in.run("call", "/loop")
    assert result.code == 1
    assert "too many redirects" in one_error_line(result)
