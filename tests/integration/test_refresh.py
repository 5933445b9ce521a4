"""The refresh engine with real processes, the real dev server and the real stores."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable

import pytest

from tests.conftest import STORAGES, Cli, DevServer, Result, one_error_line
from tests.helpers import assert_one_refresh, expired_session, parallel, slow, wait_for
from tests.platforms import posix_only

# -- exactly one refresh across processes -------------------------------------------------

@pytest.mark.parametrize("round_", range(3))
@pytest.mark.parametrize("storage", STORAGES)
def test_50_processes_one_refresh(cli: Cli, server: DevServer, storage: str, round_: int) -> None:
    server.configure(refresh_delay=0.5)  # a slow server widens the race window
    expired_session(cli, server, storage)
    assert_one_refresh(cli, server, parallel(cli, 50, "token"))


@slow
@pytest.mark.parametrize("storage", STORAGES)
def test_200_processes_one_refresh(cli: Cli, server: DevServer, storage: str) -> None:
    server.configure(refresh_delay=0.5)
    expired_session(cli, server, storage)
    assert_one_refresh(cli, server, parallel(cli, 200, "token"))


def test_without_the_lock_the_server_detects_reuse(cli: Cli, server: DevServer) -> None:
    """The same run with the lock switched off: proves the test above can fail."""
    server.configure(refresh_delay=0.5)
    expired_session(cli, server)
    results = parallel(cli, 50, "token", AUTHCLI_TEST_DISABLE_LOCK="1")
    stats = server.stats()
    assert stats["refresh_attempts"] > 1
    assert stats["reuse_detections"] >= 1
    # The server revoked the whole family: the user is logged out, whatever the processes printed.
    assert cli.run("whoami", "--verify").code == 4
    del results


def test_a_test_switch_outside_the_harness_is_inert(cli: Cli, server: DevServer) -> None:
    """AUTHCLI_TEST_DISABLE_LOCK=1 left in a user's shell, without the harness's TEST-HARNESS
    file in the config dir: the lock still holds, and nothing is said."""
    import subprocess

    from tests.conftest import AUTHCLI

    server.configure(refresh_delay=0.5)
    expired_session(cli, server)
    assert not (cli.home / "TEST-HARNESS").exists()
    env = {**cli.env, "AUTHCLI_TEST_DISABLE_LOCK": "1", "AUTHCLI_TEST_PAUSE_AT": "before-refresh:30"}
    procs = [subprocess.Popen([AUTHCLI, "token"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(20)]
    results = [Result(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert_one_refresh(cli, server, results)
    assert all(r.err == "" for r in results), results[:2]


def test_a_test_switch_in_the_harness_says_so(cli: Cli, server: DevServer) -> None:
    expired_session(cli, server)
    result = cli.run("token", AUTHCLI_TEST_DISABLE_LOCK="1")  # Cli marks its config dir as the harness's
    assert result.code == 0
    assert result.err == ("authcli: warning: test switch AUTHCLI_TEST_DISABLE_LOCK is active (TEST-HARNESS in "
                          "AUTHCLI_CONFIG_DIR); never use it for real sessions\n")


@pytest.mark.parametrize("storage", STORAGES)
def test_readers_never_see_a_torn_record(cli: Cli, server: DevServer, storage: str) -> None:
    assert cli.login(server.url, "--storage", storage).code == 0
    readers = [cli.popen("token") for _ in range(30)]
    for _ in range(5):
        assert cli.run("refresh").code == 0
    for proc in readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.count("\n") == 1
    assert server.stats()["reuse_detections"] == 0


# -- the refresher dies --------------------------------------------------------------------

@posix_only("SIGKILL")
def test_refresher_killed_mid_refresh_frees_the_lock(cli: Cli, server: DevServer) -> None:
    expired_session(cli, server)
    server.fault(mode="drop", delay=30, times=1)  # the first refresh hangs, unprocessed
    victim = cli.popen("token")
    wait_for(lambda: server.stats()["refresh_requests"] >= 1, "the first refresh to reach the server")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    # The kernel released the dead holder's lock: a short lock timeout is enough for everyone.
    results = parallel(cli, 10, "token", AUTHCLI_LOCK_TIMEOUT="10")
    assert_one_refresh(cli, server, results)


# -- every outcome of a refresh --------------------------------------------------------------

@pytest.mark.parametrize("storage", STORAGES)
def test_invalid_grant_ends_the_session_but_keeps_the_profile(cli: Cli, server: DevServer, storage: str) -> None:
    expired_session(cli, server, storage)
    server.fault(mode="status", status=400, body={"error": "invalid_grant", "message": "revoked"}, times=1)
    result = cli.run("token")
    assert result.code == 4
    assert one_error_line(result) == "authcli: session expired, run authcli login"
    assert result.out == ""
    assert cli.run("whoami").code == 4
    profiles = json.loads(cli.run("profiles", "--json").out)
    assert [(p["name"], p["session"]) for p in profiles] == [("default", "none")]


REFUSALS = [  # (status, error): refusals of this attempt, none a verdict on the grant
    (401, "invalid_client"),  # RFC 6749 5.2: a bad client_secret_basic
    (400, "invalid_client"),
    (400, "invalid_dpop_proof"),  # the proof's iat outside the server's window: a skewed clock
    (400, "use_dpop_nonce"),  # still asking after the one retry
    (400, "invalid_request"),
    (400, "unauthorized_client"),
    (401, None),  # a bare 401, no OAuth error at all
    (401, "invalid_token"),
]


@pytest.mark.parametrize(("status", "error"), REFUSALS, ids=lambda v: str(v))
def test_only_invalid_grant_ends_a_session(cli: Cli, server: DevServer, status: int, error: str | None) -> None:
    expired_session(cli, server)
    body = {"error": error, "error_description": "refused"} if error else {"message": "refused"}
    server.fault(mode="status", status=status, body=body, times=1)
    result = cli.run("token")
    assert result.code == 4, result
    line = one_error_line(result)
    assert f"refused the refresh (HTTP {status}" in line and "the session is kept" in line, line
    assert server.stats()["refresh_requests"] == 1  # nothing more spent
    # The session is still there, and the next attempt (the server now willing) refreshes with it.
    assert cli.run("token").code == 0
    assert server.stats()["refreshes"] == 1 and server.stats()["reuse_detections"] == 0


def test_session_expired_names_a_non_default_profile(cli: Cli, server: DevServer) -> None:
    server.configure(access_ttl=1)
    cli.login(server.url, "--storage", "file", "--profile", "ci")
    time.sleep(1.2)
    server.fault(mode="status", status=401, body={"error": "invalid_grant"}, times=1)
    result = cli.run("token", "--profile", "ci")
    assert one_error_line(result) == "authcli: session expired, run authcli login --profile ci"


@pytest.mark.parametrize(
    ("fault", "env", "message"),
    [
        ({"mode": "status", "status": 500, "times": 2}, {}, "answered HTTP 500 to the refresh"),
        ({"mode": "status", "status": 503, "times": 2}, {}, "answered HTTP 503"),
        ({"mode": "status", "status": 429, "times": 2}, {}, "answered HTTP 429"),
        ({"mode": "drop", "times": 2}, {}, "closed the connection"),
        ({"mode": "drop", "delay": 3, "times": 2}, {"AUTHCLI_TIMEOUT": "0.5"}, "timed out after 0.5s"),
        ({"mode": "garbage", "times": 1}, {}, "text/html"),
        ({"mode": "no-token", "times": 1}, {}, "no access token"),
    ],
    ids=["500", "503", "429", "dropped", "timeout", "html", "no-token"],
)
def test_failed_refresh_keeps_every_token(cli: Cli, server: DevServer, fault: dict[str, object],
                                          env: dict[str, str], message: str) -> None:
    expired_session(cli, server)
    before = cli.snapshot()
    server.fault(**fault)
    result = cli.run("token", **env)
    assert result.code == 5, result
    assert message in one_error_line(result)
    assert result.out == ""
    assert cli.snapshot() == before
    server.clear_faults()
    assert cli.run("token").code == 0  # the kept session still works
    assert server.stats()["reuse_detections"] == 0


def test_transient_failure_is_replayed_once(cli: Cli, server: DevServer) -> None:
    expired_session(cli, server)
    server.fault(mode="status", status=502, times=1)
    result = cli.run("token")
    assert result.code == 0, result
    stats = server.stats()
    assert (stats["refresh_requests"], stats["refreshes"]) == (2, 1)


def test_failed_proactive_refresh_uses_the_still_valid_token(cli: Cli, server: DevServer) -> None:
    server.configure(access_ttl=10)  # refresh margin: 5 s
    assert cli.login(server.url, "--storage", "file").code == 0
    current = cli.run("token").out
    time.sleep(5.5)  # inside the margin, still valid for a few seconds
    server.fault(mode="status", status=500, times=2)
    result = cli.run("token")
    assert result.code == 0, result
    assert result.out == current
    assert "warning: could not refresh" in result.err


def test_rejected_refresh_adopts_a_siblings_rotation(cli: Cli, server: DevServer) -> None:
    """B's refresh is refused (slowly) while A rotates the token: B adopts A's tokens."""
    expired_session(cli, server)
    server.fault(mode="status", status=400, body={"error": "invalid_grant"}, delay=2, times=1)
    b = cli.popen("token", AUTHCLI_TEST_DISABLE_LOCK="1")
    wait_for(lambda: server.stats()["refresh_requests"] >= 1, "B's refresh")
    a = cli.run("token", AUTHCLI_TEST_DISABLE_LOCK="1")
    assert a.code == 0, a
    out, err = b.communicate(timeout=60)
    assert b.returncode == 0, err
    assert out == a.out
    assert cli.run("whoami").code == 0


def test_401_with_a_stale_token_after_a_sibling_refreshed(cli: Cli, server: DevServer) -> None:
    server.configure(revoke_on_refresh=True)  # a refresh retires the older access tokens
    assert cli.login(server.url, "--storage", "file").code == 0
    server.fault(target="api-delay", delay=2, times=1)
    stale = cli.popen("whoami", "--verify", "--json")  # sends the current token, answered late
    wait_for(lambda: server.stats()["api_requests"] >= 1, "the slow request")
    assert cli.run("refresh").code == 0  # a sibling refreshes meanwhile
    out, err = stale.communicate(timeout=60)
    assert stale.returncode == 0, err
    assert json.loads(out)["verified"]["email"] == "alice@example.com"
    stats = server.stats()
    assert stats["refreshes"] == 1  # the 401 adopted the sibling's token; no second refresh
    assert stats["api_unauthorized"] == 1


@pytest.mark.parametrize("skew", [600, -600])
@pytest.mark.parametrize("lifetime_field", [True, False], ids=["expires_in", "jwt-exp-iat"])
def test_server_clock_skew_changes_nothing(cli: Cli, start_server: Callable[..., DevServer], skew: int,
                                           lifetime_field: bool) -> None:
    args = ["--clock-skew", str(skew), "--access-ttl", "120"]
    server = start_server(*args, *([] if lifetime_field else ["--no-expires-in"]))
    assert cli.login(server.url, "--storage", "file").code == 0
    for _ in range(5):
        assert cli.run("token").code == 0
    assert cli.run("whoami", "--verify").code == 0  # the token in use is not expired at the server
    stats = server.stats()
    assert (stats["refreshes"], stats["api_unauthorized"]) == (0, 0)
    assert 100 <= json.loads(cli.run("whoami", "--json").out)["expires_in"] <= 120


# -- the lock itself -----------------------------------------------------------------------

@pytest.mark.parametrize("lock_logout", [True, False], ids=["locked", "lock-disabled"])
def test_logout_while_a_refresh_is_in_flight(cli: Cli, server: DevServer, lock_logout: bool) -> None:
    """logout waits for the refresher; with its lock switched off the tokens come back."""
    server.configure(refresh_delay=2)
    expired_session(cli, server)
    refresher = cli.popen("token")
    wait_for(lambda: server.stats()["refresh_requests"] >= 1, "the refresh to start")
    waiters = [cli.popen("token") for _ in range(5)]
    time.sleep(0.3)
    env = {} if lock_logout else {"AUTHCLI_TEST_DISABLE_LOCK": "1"}
    assert cli.run("logout", **env).code == 0
    refresher.communicate(timeout=60)
    for proc in waiters:
        proc.communicate(timeout=60)
        assert proc.returncode in (0, 4)
    if lock_logout:
        assert cli.run("whoami").code == 4, "tokens came back after logout"
    else:
        assert cli.run("whoami").code == 0


def test_lock_timeout_is_exit_6(cli: Cli, server: DevServer) -> None:
    from filelock import FileLock

    expired_session(cli, server)
    before = cli.snapshot()
    with FileLock(str(cli.home / "state" / "locks" / "default.lock")):
        result = cli.run("token", AUTHCLI_LOCK_TIMEOUT="1")
    assert result.code == 6
    assert "held the lock for profile 'default' for more than 1s" in one_error_line(result)
    assert cli.snapshot() == before


@posix_only("SIGINT sent to one process")
def test_ctrl_c_while_waiting_for_the_lock_is_exit_130(cli: Cli, server: DevServer) -> None:
    from filelock import FileLock

    expired_session(cli, server)
    with FileLock(str(cli.home / "state" / "locks" / "default.lock")):
        proc = cli.popen("token")
        time.sleep(1.5)  # let it reach the lock (a wait, not an assertion about speed)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out == "" and "Traceback" not in err


@posix_only("a 0600 lock file")
def test_lock_file_is_private_and_kept(cli: Cli, server: DevServer) -> None:
    expired_session(cli, server)
    assert cli.run("token").code == 0
    lock = cli.home / "state" / "locks" / "default.lock"
    assert lock.exists() and lock.stat().st_mode & 0o777 == 0o600
    assert lock.read_bytes() == b""


def test_refresh_command_reports_on_stderr(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    before = cli.run("token").out
    result = cli.run("refresh")
    assert result.code == 0 and result.out == ""
    assert "Refreshed: new access token expiring in" in result.err
    assert cli.run("token").out != before


def test_token_never_printed_anywhere_but_stdout_of_token(cli: Cli, server: DevServer) -> None:
    expired_session(cli, server)
    token_run = cli.run("token")
    token = token_run.out.strip()
    outputs = [cli.run(*args) for args in (["whoami"], ["whoami", "--json"], ["profiles"], ["refresh"])]
    for result in outputs + [token_run]:
        assert token not in result.err
    for result in outputs:
        assert token not in result.out
    assert token not in (cli.home / "config.toml").read_text()


def test_a_waiter_leaves_with_a_siblings_token_while_the_lock_is_still_held(cli: Cli, server: DevServer) -> None:
    """Waiters look at the store between lock attempts: no queue behind the lock after a refresh."""
    from filelock import FileLock

    from authcli.fsutil import atomic_write
    from authcli.tokens import TokenRecord

    expired_session(cli, server)
    path = cli.home / "state" / "tokens" / "default.json"
    old = TokenRecord.from_json(path.read_text())
    with FileLock(str(cli.home / "state" / "locks" / "default.lock")):
        waiter = cli.popen("token", AUTHCLI_LOCK_TIMEOUT="20")
        time.sleep(1)  # let it start waiting (a wait, not an assertion about speed)
        fresh = TokenRecord("fresh-from-a-sibling", "rt-sibling", time.time() + 300, time.time(), old.api_origin)
        atomic_write(path, fresh.to_json().encode())  # what the lock holder would save
        out, err = waiter.communicate(timeout=30)  # returns while the lock is still held
    assert waiter.returncode == 0, err
    assert out == "fresh-from-a-sibling\n"
    assert server.stats()["refresh_requests"] == 0
