"""One session shared by many machines on a real redis-server (issue 13).

A "machine" is an AUTHCLI_CONFIG_DIR of its own: its own config, its own lock files, so
nothing but Redis stands between two of them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli, DevServer, Redis, Result, base_env, one_error_line
from tests.helpers import PROXIED, slow, wait_for


@pytest.fixture
def redis(start_redis: Callable[..., Redis]) -> Redis:
    return start_redis()


def machines(tmp_path: Path, redis: Redis, n: int) -> list[Cli]:
    out = []
    for i in range(n):
        home = tmp_path / f"machine-{i}"
        env = base_env(home)
        env["AUTHCLI_REDIS_URL"] = redis.url
        out.append(Cli(env=env, home=home))
    return out


def fleet(tmp_path: Path, redis: Redis, server: DevServer, n: int = 4, access_ttl: float = 1) -> list[Cli]:
    """n machines on one session: the first logs in (a token living ``access_ttl`` s), the
    others join; later tokens live 300 s."""
    clis = machines(tmp_path, redis, n)
    server.configure(access_ttl=access_ttl)
    first = clis[0].login(server.url, "--storage", "redis")
    assert first.code == 0, first
    server.configure(access_ttl=300)
    for cli in clis[1:]:
        joined = cli.run("login", "--api-url", server.url, "--storage", "redis", "--join")
        assert joined.code == 0, joined
    return clis


def spread(clis: list[Cli], n: int, *args: str, **env: str) -> list[Result]:
    procs = [clis[i % len(clis)].popen(*args, **env) for i in range(n)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append(Result(proc.returncode, out, err))
    return results


def one_refresh_over_machines(tmp_path: Path, redis: Redis, server: DevServer, n: int) -> None:
    clis = fleet(tmp_path, redis, server)
    time.sleep(1.2)
    server.configure(refresh_delay=0.5)  # every machine is waiting while the one refreshes
    results = spread(clis, n, "token")
    assert [r for r in results if r.code != 0] == []
    assert len({r.out for r in results}) == 1
    stats = server.stats()
    assert (stats["refreshes"], stats["reuse_detections"]) == (1, 0), stats


def test_40_processes_on_4_machines_cause_one_refresh(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    one_refresh_over_machines(tmp_path, redis, server, 40)


@slow
def test_200_processes_on_4_machines_cause_one_refresh(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    one_refresh_over_machines(tmp_path, redis, server, 200)


def test_without_the_lease_the_machines_race_and_the_server_sees_reuse(tmp_path: Path, redis: Redis,
                                                                       server: DevServer) -> None:
    """The same run with the lease switched off (test-only): each machine's file lock still
    lets one process per machine through, and four machines spend one refresh token."""
    clis = fleet(tmp_path, redis, server)
    time.sleep(1.2)
    server.configure(refresh_delay=0.5)
    spread(clis, 40, "token", AUTHCLI_TEST_DISABLE_REDIS_LEASE="1")
    stats = server.stats()
    assert stats["refreshes"] > 1 or stats["reuse_detections"] > 0, stats
    assert stats["reuse_detections"] > 0, stats


def test_a_joined_machine_uses_the_shared_session_and_logout_ends_it_everywhere(
        tmp_path: Path, redis: Redis, server: DevServer) -> None:
    one, two, three = fleet(tmp_path, redis, server, n=3, access_ttl=300)
    token = one.run("token").out
    assert two.run("token").out == token and three.run("call", "/users/me").code == 0
    # Every command works unchanged on the shared session, the proxy's main-thread engine too.
    whoami = three.run("whoami", "--json")
    assert whoami.code == 0 and '"storage": "redis"' in whoami.out, whoami
    assert three.run("refresh").code == 0
    assert one.run("token").out == three.run("token").out != token
    through_proxy = two.run("exec", "--", sys.executable, "-c", PROXIED)
    assert through_proxy.code == 0 and "alice@example.com" in through_proxy.out, through_proxy
    assert two.run("logout").code == 0
    for cli in (one, three):
        result = cli.run("token")
        assert result.code == 4 and "not logged in" in result.err, result


def test_join_needs_a_session_there(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    (cli,) = machines(tmp_path, redis, 1)
    result = cli.run("login", "--api-url", server.url, "--storage", "redis", "--join", "--redis-namespace", "nobody")
    assert result.code == 4 and "no shared session at Redis" in one_error_line(result), result
    assert not (cli.home / "config.toml").exists() or "nobody" not in (cli.home / "config.toml").read_text()


def test_the_lease_holder_killed_mid_refresh(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    """The holder dies while its refresh request waits for an answer the server has not yet
    given (so it spent nothing): its lease runs out, another machine refreshes."""
    one, two = fleet(tmp_path, redis, server, n=2)
    time.sleep(1.2)
    server.fault(mode="status", status=503, delay=30)  # taken by the first refresh only
    holder = one.popen("token", AUTHCLI_TIMEOUT="1")  # lease TTL: 2 x 1 s + 5 s
    wait_for(lambda: server.stats()["refresh_requests"] == 1, "the holder's refresh request")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = two.run("token")
    assert result.code == 0, result
    stats = server.stats()
    assert (stats["refreshes"], stats["reuse_detections"]) == (1, 0), stats
    assert one.run("token").out == result.out


def stopped_past_its_lease(cli: Cli, point: str) -> subprocess.Popen[str]:
    """`authcli token` SIGSTOPped at ``point`` of its refresh (AUTHCLI_TEST_PAUSE_AT) until its
    lease (2 x AUTHCLI_TIMEOUT + 5 s = 7 s) has run out."""
    holder = cli.popen("token", AUTHCLI_TIMEOUT="1", AUTHCLI_TEST_PAUSE_AT=point)
    assert holder.stderr is not None
    assert "test switch AUTHCLI_TEST_PAUSE_AT is active" in holder.stderr.readline()
    assert f"pausing {point}" in holder.stderr.readline()
    holder.send_signal(signal.SIGSTOP)
    time.sleep(7.5)
    return holder


def test_a_holder_stopped_past_its_lease_rereads_instead_of_refreshing(tmp_path: Path, redis: Redis,
                                                                       server: DevServer) -> None:
    one, two = fleet(tmp_path, redis, server, n=2)
    time.sleep(1.2)
    holder = stopped_past_its_lease(one, "before-refresh")
    other = two.run("token")
    assert other.code == 0, other
    holder.send_signal(signal.SIGCONT)
    out, err = holder.communicate(timeout=60)
    assert (holder.returncode, out) == (0, other.out), err
    stats = server.stats()
    assert (stats["refreshes"], stats["reuse_detections"]) == (1, 0), stats


def test_the_lease_is_kept_alive_while_its_holder_works(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    """A holder busy for longer than the lease's TTL (7 s here) still holds it: a thread
    extends it. Without that the holder would find its lease gone and not refresh."""
    (one,) = fleet(tmp_path, redis, server, n=1)
    time.sleep(1.2)
    result = one.run("token", AUTHCLI_TIMEOUT="1", AUTHCLI_TEST_PAUSE_AT="before-refresh:9")
    assert result.code == 0, result
    assert server.stats()["refreshes"] == 1


def test_a_save_after_the_lease_is_lost_cannot_overwrite_a_newer_session(tmp_path: Path, redis: Redis,
                                                                         server: DevServer) -> None:
    """Stopped after its refresh and before its save, past its lease: meanwhile another
    machine logged in afresh. The stopped one's save is refused (fencing) and it ends with
    the newer session."""
    one, two = fleet(tmp_path, redis, server, n=2)
    time.sleep(1.2)
    holder = stopped_past_its_lease(one, "before-save")
    assert two.login(server.url, "--storage", "redis").code == 0
    newer = two.run("token").out
    holder.send_signal(signal.SIGCONT)
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0 and out == newer, (out, err)
    assert "another machine changed the session" in err
    assert one.run("token").out == newer
    assert server.stats()["reuse_detections"] == 0


def test_redis_down_fails_closed_and_the_session_survives(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    (one,) = fleet(tmp_path, redis, server, n=1)
    time.sleep(1.2)
    redis.stop()
    result = one.run("token")
    assert result.code == 6, result
    assert f"cannot reach Redis at {redis.url} (connection refused)" in one_error_line(result)
    assert server.stats()["refresh_requests"] == 0  # never a refresh without the lease
    redis.start()  # appendonly: the record is still there
    again = one.run("token")
    assert again.code == 0, again
    assert server.stats()["refreshes"] == 1


def test_redis_stopped_and_started_mid_run(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    """Redis goes away while one machine refreshes and the rest wait: the waiters exit 6 with
    one line; the holder, whose refresh the server already answered, keeps trying to save
    while its lease would last, and once Redis is back (appendonly) the session is intact."""
    clis = fleet(tmp_path, redis, server)
    time.sleep(1.2)
    server.configure(refresh_delay=2)
    procs = [clis[i % 4].popen("token") for i in range(8)]
    wait_for(lambda: server.stats()["refresh_requests"] == 1, "the refresh")
    redis.stop()
    wait_for(lambda: sum(p.poll() is not None for p in procs) == 7, "the waiters to give up", limit=120)
    redis.start()
    results = [Result(p.wait(timeout=120), *p.communicate()) for p in procs]
    failed = [r for r in results if r.code != 0]
    assert len(failed) == 7 and all(r.code == 6 and len(r.err.splitlines()) == 1 for r in failed), failed
    assert all("cannot reach Redis" in r.err for r in failed)
    (saved,) = [r for r in results if r.code == 0]
    server.configure(refresh_delay=0)
    assert clis[1].run("token").out == saved.out  # the session is intact, on every machine
    stats = server.stats()
    assert (stats["refreshes"], stats["reuse_detections"]) == (1, 0), stats


def test_a_read_only_redis_stops_the_refresh_before_the_token_is_spent(tmp_path: Path, redis: Redis,
                                                                       server: DevServer) -> None:
    (one,) = fleet(tmp_path, redis, server, n=1)
    time.sleep(1.2)
    # A replica of a primary that is not there: it keeps its data and refuses writes.
    subprocess.run(["redis-cli", "-p", str(redis.port), "REPLICAOF", "127.0.0.1", "1"], check=True,
                   capture_output=True)
    result = one.run("token")
    assert result.code == 6, result
    assert "is read-only (a replica?)" in one_error_line(result)
    assert server.stats()["refresh_requests"] == 0  # fail closed: nothing spent
    subprocess.run(["redis-cli", "-p", str(redis.port), "REPLICAOF", "NO", "ONE"], check=True, capture_output=True)
    assert one.run("token").code == 0


@pytest.mark.parametrize(("setup", "env", "message"), [
    (("--requirepass", "right"), {"AUTHCLI_REDIS_PASSWORD": "wrong"}, "refused the credentials"),
    (("--requirepass", "right"), {}, "refused"),
    ((), {"AUTHCLI_REDIS_URL": "rediss://127.0.0.1:{port}/0"}, "cannot reach Redis at rediss://127.0.0.1:{port}/0"),
    ((), {"AUTHCLI_REDIS_URL": "http://127.0.0.1:{port}/0"}, "is not a redis:// or rediss:// URL"),
])
def test_bad_redis_settings_are_one_line(tmp_path: Path, start_redis: Callable[..., Redis], server: DevServer,
                                         setup: tuple[str, ...], env: dict[str, str], message: str) -> None:
    redis = start_redis(*setup)
    (cli,) = machines(tmp_path, redis, 1)
    cli.env.update({k: v.replace("{port}", str(redis.port)) for k, v in env.items()})
    result = cli.login(server.url, "--storage", "redis")
    assert result.code in (2, 6), result
    assert message.replace("{port}", str(redis.port)) in one_error_line(result)
    assert "right" not in result.err and "wrong" not in result.err


def test_the_record_encrypted_at_rest(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    (one,) = machines(tmp_path, redis, 1)
    one.env["AUTHCLI_REDIS_RECORD_KEY"] = key
    assert one.login(server.url, "--storage", "redis").code == 0
    token = one.run("token").out.strip()
    raw = subprocess.run(["redis-cli", "-p", str(redis.port), "--raw", "KEYS", "authcli:*"], capture_output=True,
                         text=True).stdout.split()
    dump = subprocess.run(["redis-cli", "-p", str(redis.port), "--raw", "HGET", raw[0], "record"],
                          capture_output=True, text=True).stdout
    assert token and token not in dump and dump.startswith("v1:")
    del one.env["AUTHCLI_REDIS_RECORD_KEY"]
    result = one.run("token")
    assert result.code == 6 and "it is encrypted: set AUTHCLI_REDIS_RECORD_KEY" in result.err


def test_a_password_in_redis_url_is_not_written_to_config(tmp_path: Path, redis: Redis, server: DevServer) -> None:
    (cli,) = machines(tmp_path, redis, 1)
    del cli.env["AUTHCLI_REDIS_URL"]
    result = cli.login(server.url, "--storage", "redis", "--redis-url", f"redis://:hunter2@127.0.0.1:{redis.port}/0")
    assert result.code == 2 and "carries a password" in result.err and "hunter2" not in result.err
    ok = cli.login(server.url, "--storage", "redis", "--redis-url", redis.url)
    assert ok.code == 0, ok
    assert f'redis_url = "{redis.url}"' in (cli.home / "config.toml").read_text()
    assert cli.run("token").code == 0  # the URL from config.toml, with no environment


@pytest.mark.keyring
def test_the_redis_password_kept_in_this_machines_keyring(tmp_path: Path, start_redis: Callable[..., Redis],
                                                          server: DevServer) -> None:
    redis = start_redis("--requirepass", "s3cret-redis")
    one, two = machines(tmp_path, redis, 2)
    one.env["AUTHCLI_REDIS_PASSWORD"] = "s3cret-redis"
    assert one.login(server.url, "--storage", "redis").code == 0
    joined = two.run("login", "--api-url", server.url, "--storage", "redis", "--join", "--redis-password-stdin",
                     input="s3cret-redis\n")
    assert joined.code == 0, joined
    config = (two.home / "config.toml").read_text()
    assert 'redis_auth = "keyring"' in config and "s3cret-redis" not in config
    result = two.run("token")  # no password in its environment: the keyring's
    assert result.code == 0 and result.out == one.run("token").out, result
    both = two.run("login", "--api-url", server.url, "--storage", "redis", "--password-stdin",
                   "--redis-password-stdin", input="x\n")
    assert both.code == 2 and "both read stdin" in both.err


def test_a_machine_leaving_for_local_storage_leaves_the_fleet_its_session(tmp_path: Path, redis: Redis,
                                                                         server: DevServer) -> None:
    one, two = fleet(tmp_path, redis, server, n=2, access_ttl=300)
    shared = one.run("token").out
    moved = two.login(server.url, "--storage", "file")  # a session of its own now
    assert moved.code == 0 and "left to the other machines" in moved.err, moved
    assert one.run("token").out == shared and two.run("token").out != shared


def test_a_second_fleet_never_silently_takes_over_a_shared_session(tmp_path: Path, redis: Redis,
                                                                    server: DevServer) -> None:
    """Same API, Redis and profile name, another account: refused, naming the account there,
    unless --join (use it) or --replace (sign in over it for every machine)."""
    ours, theirs = machines(tmp_path, redis, 2)
    assert ours.login(server.url, "--storage", "redis").code == 0
    before = ours.run("token").out

    def bob(*extra: str) -> Result:
        return theirs.run("login", "--api-url", server.url, "--email", "bob@example.com", "--password-stdin",
                          "--storage", "redis", *extra, input="bob-password\n")

    refused = bob()
    assert refused.code == 2, refused
    assert "holds a live session of the account alice@example.com" in one_error_line(refused)
    assert "--join" in refused.err and "--replace" in refused.err
    assert ours.run("token").out == before  # the first fleet's session is untouched
    assert '"email": "alice@example.com"' in ours.run("call", "/users/me").out
    again = ours.login(server.url, "--storage", "redis")  # the same account signing in again is fine
    assert again.code == 0, again
    assert bob("--join", "--replace").code == 2
    replaced = bob("--replace")
    assert replaced.code == 0 and "as bob@example.com" in replaced.err, replaced
    assert '"email": "bob@example.com"' in ours.run("call", "/users/me").out


@pytest.mark.parametrize("url", ["redis://127.0.0.1:{port}/0?password=hunter2",
                                 "redis://:hunter2@127.0.0.1:{port}/0",
                                 "redis://default:hunter2@127.0.0.1:{port}/0?socket_timeout=5"])
def test_a_redis_password_in_the_url_is_never_shown(tmp_path: Path, start_redis: Callable[..., Redis],
                                                    server: DevServer, url: str) -> None:
    redis = start_redis("--requirepass", "hunter2")
    (cli,) = machines(tmp_path, redis, 1)
    cli.env["AUTHCLI_REDIS_URL"] = url.format(port=redis.port)
    assert cli.login(server.url, "--storage", "redis").code == 0
    shown = [cli.run("whoami"), cli.run("whoami", "--json"), cli.run("profiles"), cli.run("logout")]
    assert "hunter2" not in "".join(r.out + r.err for r in shown), shown
    assert "***" in shown[0].out
    given = cli.login(server.url, "--storage", "redis", "--redis-url", url.format(port=redis.port))
    assert given.code == 2 and "carries a password" in given.err and "hunter2" not in given.err
    assert "hunter2" not in (cli.home / "config.toml").read_text()
    redis.stop()  # unreachable: the error names the server, never the password
    down = cli.run("token", "--min-ttl", "1")
    assert "hunter2" not in down.err


def test_a_record_larger_than_any_authcli_record_is_refused_before_it_is_read(
        tmp_path: Path, redis: Redis, server: DevServer) -> None:
    """A valid record padded to 3 MiB: both read paths (the hot RESP reader and redis-py) refuse
    it by its size, as the file store does."""
    import json

    (cli,) = machines(tmp_path, redis, 1)
    assert cli.login(server.url, "--storage", "redis").code == 0
    def rcli(*args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(redis.port), *args], capture_output=True, text=True,
                              check=True).stdout

    key = next(k for k in rcli("--scan", "--pattern", "authcli:*").split() if not k.endswith(":lease"))
    record = json.loads(rcli("HGET", key, "record"))
    record["padding"] = "x" * (3 * 1024 * 1024)
    subprocess.run(["redis-cli", "-p", str(redis.port), "-x", "HSET", key, "record"],
                   input=json.dumps(record), text=True, check=True, capture_output=True)
    for args in (["token"], ["whoami"]):
        result = cli.run(*args)
        assert result.code == 6, result
        assert "larger than any authcli record" in one_error_line(result)
