"""Local state under concurrency and on a hostile file system (issue 10, sections 1, 2 and 4):
parallel logins, two config dirs on one keyring, lock files deleted or replaced by symlinks,
a full disk under a refresh, directories other users could write, hand-edited profile names."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, STORAGES, Cli, DevServer, base_env, one_error_line
from tests.helpers import REQUIRE_ROOT, expired_session, needs_root, wait_for

# -- section 1: local state under concurrency ---------------------------------------------

@pytest.mark.parametrize("storage", STORAGES)
def test_ten_parallel_logins_are_all_recorded_and_all_logged_out(cli: Cli, server: DevServer, storage: str) -> None:
    procs = [
        subprocess.Popen(
            [AUTHCLI, "login", "-p", f"p{i}", "--api-url", server.url, "--email", "alice@example.com",
             "--password-stdin", "--storage", storage],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env,
        )
        for i in range(10)
    ]
    for proc in procs:
        _, err = proc.communicate("alice-password\n", timeout=120)
        assert proc.returncode == 0, err
    listed = json.loads(cli.run("profiles", "--json").out)
    assert sorted(row["name"] for row in listed) == sorted(f"p{i}" for i in range(10))
    assert all(row["session"] == "active" for row in listed), listed

    assert cli.run("logout", "--all").code == 0
    tokens = cli.home / "state" / "tokens"
    assert not tokens.exists() or list(tokens.iterdir()) == []
    if storage == "keyring":
        assert [cli.keyring_entry(f"p{i}") for i in range(10)] == [None] * 10


@pytest.mark.keyring
def test_two_config_dirs_on_one_keyring_keep_their_own_sessions(
        cli: Cli, start_server: Callable[..., DevServer], tmp_path: Path) -> None:
    """Same keyring service, same profile name, two AUTHCLI_CONFIG_DIRs: each dir's session is
    its own (its entry goes with its lock file), so neither login nor refresh crosses over."""
    other = Cli(env={**base_env(tmp_path / "other-home"),
                     "AUTHCLI_KEYRING_SERVICE": cli.env["AUTHCLI_KEYRING_SERVICE"]}, home=tmp_path / "other-home")
    first, second = start_server(), start_server()
    for who, server in ((cli, first), (other, second)):
        server.configure(access_ttl=1)
        assert who.login(server.url).code == 0
        server.configure(access_ttl=300, refresh_delay=0.3)
    time.sleep(1.2)
    procs = [who.popen("token") for who in (cli, other) for _ in range(10)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for who, server in ((cli, first), (other, second)):
        stats = server.stats()
        assert stats["refreshes"] == 1 and stats["reuse_detections"] == 0, stats
        assert who.run("whoami", "--verify").code == 0
    assert cli.keyring_entry() != other.keyring_entry()


def test_a_lock_file_deleted_while_held_does_not_let_waiters_in(cli: Cli, server: DevServer) -> None:
    """The holder is refreshing against a slow server when the lock file is deleted: the
    processes already waiting keep waiting on the file the holder holds, and those started
    after the deletion (a new lock file, excluding nobody) meet the holder at the lock on the
    records directory. All leave with its token: one refresh, no reuse."""
    server.configure(refresh_delay=2.0)
    expired_session(cli, server)
    holder = cli.popen("token")
    wait_for(lambda: server.stats()["refresh_requests"] == 1, "the holder's refresh")
    lock = cli.home / "state" / "locks" / "default.lock"
    waiters = [cli.popen("token") for _ in range(4)]
    wait_for(lambda: all(holds_open(proc.pid, lock) for proc in waiters), "the waiters to open the lock file")
    lock.unlink()
    late = [cli.popen("token") for _ in range(4)]
    wait_for(lambda: lock.exists(), "a late process to create a new lock file")
    results = [proc.communicate(timeout=60) + (proc.returncode,) for proc in [holder, *waiters, *late]]
    assert all(code == 0 for _, _, code in results), results
    stats = server.stats()
    assert stats["refreshes"] == 1 and stats["reuse_detections"] == 0, stats
    assert len({out for out, _, _ in results}) == 1


def holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux /proc)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


def test_a_symlink_planted_at_the_lock_path_is_refused(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    expired_session(cli, server)
    target = tmp_path / "victim"
    lock = cli.home / "state" / "locks" / "default.lock"
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    lock.unlink(missing_ok=True)
    lock.symlink_to(target)
    result = cli.run("token")
    assert result.code == 6
    assert "symbolic link" in one_error_line(result) and str(lock) in result.err
    assert not target.exists()
    assert server.stats()["refresh_requests"] == 0


# -- section 2: never spend a refresh token that cannot be kept ------------------------------

@pytest.fixture
def small_tmpfs(cli: Cli) -> Iterator[Path]:
    """The tokens dir on a 256 KiB tmpfs of its own, so a test can fill it."""
    needs_root("mount a tmpfs")
    tokens = cli.home / "state" / "tokens"
    tokens.mkdir(parents=True, mode=0o700)
    os.chmod(cli.home, 0o700)
    os.chmod(cli.home / "state", 0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(tokens)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        if REQUIRE_ROOT:
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield tokens
    finally:
        subprocess.run(["umount", "-l", str(tokens)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_stops_the_refresh_before_the_token_is_spent(
        cli: Cli, server: DevServer, small_tmpfs: Path) -> None:
    expired_session(cli, server)
    filler = fill(small_tmpfs)
    result = cli.run("token")
    assert result.code == 6, result
    line = one_error_line(result)
    assert "No space left" in line and "intact" in line
    assert server.stats()["refresh_requests"] == 0  # the refresh token was never presented

    filler.unlink()  # the space is back: the session works, and the server saw no reuse
    again = cli.run("token")
    assert again.code == 0, again
    stats = server.stats()
    assert stats["refreshes"] == 1 and stats["reuse_detections"] == 0, stats
    assert cli.run("whoami", "--verify").code == 0


# -- section 4: a hostile file system ---------------------------------------------------------

NOBODY = pwd.getpwnam("nobody").pw_uid if hasattr(pwd, "getpwnam") else 65534


@dataclass
class Hostile:
    name: str
    directory: Callable[[Path], Path]
    spoil: Callable[[Path], None]
    message: str


def chown_nobody(path: Path) -> None:
    os.chown(path, NOBODY, -1)


HOSTILE = [
    Hostile("config dir of another user", lambda home: home, chown_nobody, "belongs to another user"),
    Hostile("state dir of another user", lambda home: home / "state", chown_nobody, "belongs to another user"),
    Hostile("tokens dir of another user", lambda home: home / "state" / "tokens", chown_nobody,
            "belongs to another user"),
    Hostile("locks dir of another user", lambda home: home / "state" / "locks", chown_nobody,
            "belongs to another user"),
    Hostile("group-writable state dir", lambda home: home / "state", lambda p: os.chmod(p, 0o770),
            "writable by other users"),
    Hostile("world-writable tokens dir", lambda home: home / "state" / "tokens", lambda p: os.chmod(p, 0o777),
            "writable by other users"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.name)
def test_directories_others_could_write_are_refused(cli: Cli, server: DevServer, case: Hostile) -> None:
    needs_root("give a directory to another user")
    expired_session(cli, server)
    (cli.home / "state" / "locks").mkdir(mode=0o700, exist_ok=True)
    directory = case.directory(cli.home)
    case.spoil(directory)
    result = cli.run("token")
    assert result.code == 6, result
    line = one_error_line(result)
    assert case.message in line and str(directory) in line
    assert server.stats()["refresh_requests"] == 0


def test_new_state_directories_are_created_private(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    assert cli.run("token").code == 0
    for directory in (cli.home, cli.home / "state", cli.home / "state" / "tokens", cli.home / "state" / "locks"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "x" * 65])
def test_a_hand_edited_profile_name_is_refused(cli: Cli, server: DevServer, tmp_path: Path, name: str) -> None:
    cli.home.mkdir(mode=0o700)
    (cli.home / "config.toml").write_text(
        f'current_profile = "{name}"\n[profiles."{name}"]\napi_url = "{server.url}"\nstorage = "file"\n')
    before = set(tmp_path.rglob("*"))
    for args in (["token"], ["whoami"], ["call", "/users/me"], ["logout"], ["refresh"]):
        result = cli.run(*args)
        assert result.code == 2, (args, result)
        assert "invalid profile name" in one_error_line(result) and "config file" in result.err
    assert set(tmp_path.rglob("*")) - before <= {cli.home / "state", cli.home / "state" / "locks"}
