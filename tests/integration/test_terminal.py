"""What a person at a terminal sees: authcli run on a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, Cli, DevServer


def on_tty(cli: Cli, *args: str, typed: bytes | None = None, **env: str) -> tuple[int, str]:
    """Run with stdout and stderr (and, given ``typed``, stdin) on one pty; return the exit code
    and everything it showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([AUTHCLI, *args], stdin=slave if typed is not None else subprocess.DEVNULL,
                            stdout=slave, stderr=slave,
                            env={**cli.env, "TERM": "xterm-256color", "COLUMNS": "100", **env})
    os.close(slave)
    if typed:
        os.write(master, typed)
    chunks = []
    deadline = time.monotonic() + 30
    while True:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:  # it is waiting for input it should not have asked for
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_json_is_pretty_and_coloured_on_a_terminal(logged_in: Cli) -> None:
    code, shown = on_tty(logged_in, "call", "/users/me")
    assert code == 0
    assert "\x1b[" in shown  # colour
    assert shown.count("\r\n") >= 5  # pretty-printed: one key a line
    assert '{"id": "u-alice", "email"' not in shown  # not the compact wire form


@pytest.mark.parametrize(("args", "env"), [(["--raw"], {}), ([], {"NO_COLOR": "1"})], ids=["--raw", "NO_COLOR"])
def test_no_colour_when_asked(logged_in: Cli, args: list[str], env: dict[str, str]) -> None:
    code, shown = on_tty(logged_in, "call", "/users/me", *args, **env)
    assert code == 0
    assert "\x1b[" not in shown


def test_raw_keeps_the_wire_form(logged_in: Cli) -> None:
    code, shown = on_tty(logged_in, "call", "--raw", "/users/me")
    assert '{"id": "u-alice", "email": "alice@example.com", "name": "Alice Example"}' in shown


def test_download_shows_progress_on_a_terminal_only(logged_in: Cli, tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    code, shown = on_tty(logged_in, "call", "/drip?bytes=2000000&delay=0.05", "-o", str(target))
    assert code == 0 and target.stat().st_size == 2_000_000
    assert "file.bin" in shown and "MB" in shown  # rich's bar: name, bytes, rate
    quiet = logged_in.run("call", "/drip?bytes=200000&delay=0", "-o", str(target))
    assert quiet.code == 0 and quiet.err == ""


def test_login_prompts_on_a_terminal_never_echo_the_password(cli: Cli, server: DevServer) -> None:
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # so getpass can turn echo off, as in a real terminal
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([AUTHCLI, "login", "--api-url", server.url, "--storage", "file"],
                            stdin=slave, stdout=slave, stderr=slave, env=cli.env, preexec_fn=controlling_terminal)
    os.close(slave)
    seen = b""
    for prompt, answer in ((b"Email: ", b"alice@example.com\n"), (b"Password: ", b"alice-password\n")):
        while prompt not in seen:
            seen += os.read(master, 1024)
        os.write(master, answer)
    while True:
        try:
            data = os.read(master, 1024)
        except OSError:
            break
        if not data:
            break
        seen += data
    os.close(master)
    assert proc.wait(timeout=30) == 0, seen
    text = seen.decode()
    assert "alice-password" not in text  # echo was off
    assert "Logged in" in text


def test_no_keyring_is_reported_before_asking_for_the_password(cli: Cli, server: DevServer) -> None:
    code, shown = on_tty(cli, "login", "--api-url", server.url, "--storage", "keyring", typed=b"\n\n",
                         PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    assert code == 6
    assert "no OS keyring is available" in shown
    assert "Email:" not in shown and "Password:" not in shown


def test_waiting_for_the_lock_is_announced_on_a_terminal(cli: Cli, server: DevServer) -> None:
    from filelock import FileLock

    from tests.helpers import expired_session

    expired_session(cli, server)
    with FileLock(str(cli.home / "state" / "locks" / "default.lock")):
        code, shown = on_tty(cli, "token", AUTHCLI_LOCK_TIMEOUT="4")
    assert code == 6
    assert "authcli: waiting for another authcli process using profile 'default'..." in shown
    assert "held the lock for profile 'default' for more than 4s" in shown
