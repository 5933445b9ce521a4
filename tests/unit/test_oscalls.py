"""oscalls.py, the one module where Linux, macOS and Windows differ for files, users and sockets.

Its branches test ``sys.platform`` when called, so the Windows branches run here too, with
sys.platform patched: each row gives the POSIX answer (this machine) and the Windows one.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from authcli import oscalls
from authcli.errors import UsageError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="runs both branches on a POSIX host, with sys.platform "
                                "patched; on Windows the rest of the suite runs the real one")
ME = os.geteuid() if sys.platform != "win32" else 0


def info(mode: int, uid: int = ME) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(("call", "posix", "windows"), [
    (lambda: oscalls.is_mine(info(stat.S_IFDIR | 0o700)), True, True),
    (lambda: oscalls.is_mine(info(stat.S_IFDIR | 0o700, uid=ME + 1)), False, True),
    (lambda: oscalls.writable_by_others(info(stat.S_IFDIR | 0o700)), False, False),
    (lambda: oscalls.writable_by_others(info(stat.S_IFDIR | 0o720)), True, False),
    (lambda: oscalls.writable_by_others(info(stat.S_IFDIR | 0o755)), False, False),
    (lambda: oscalls.open_to_others(info(stat.S_IFREG | 0o600)), False, False),
    (lambda: oscalls.open_to_others(info(stat.S_IFREG | 0o640)), True, False),
    (lambda: oscalls.open_to_others(info(stat.S_IFREG | 0o604)), True, False),
    (lambda: oscalls.is_my_uid(ME), True, False),
    (lambda: oscalls.make_mine_hint("/x/y"), f"chown {ME} /x/y", "take ownership of /x/y"),
    (lambda: oscalls.user_name(2**31 - 7), f"uid {2**31 - 7}", f"uid {2**31 - 7}"),
    (lambda: oscalls.require_unix_sockets(), None, UsageError),
    (lambda: oscalls.unix_socket_listening("/nonexistent/authcli.sock"), False, UsageError),
], ids=lambda v: "" if callable(v) else str(v))
def test_each_platform_answers(monkeypatch: pytest.MonkeyPatch, call: Callable[[], Any], posix: Any, windows: Any
                               ) -> None:
    for platform, expected in (("linux", posix), ("darwin", posix), ("win32", windows)):
        monkeypatch.setattr(sys, "platform", platform)
        if isinstance(expected, type) and issubclass(expected, BaseException):
            with pytest.raises(expected):
                call()
        else:
            assert call() == expected, platform


def test_user_name_names_a_known_user() -> None:
    assert oscalls.user_name(0) == "user root (0)"


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_a_symlink_is_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    """O_NOFOLLOW on POSIX; on Windows a check of the path when it is opened."""
    target = tmp_path / "target"
    target.write_bytes(b"secret")
    link = tmp_path / "link"
    link.symlink_to(target)
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(OSError) as caught:
        oscalls.open_file(link, os.O_RDONLY)
    assert caught.value.errno == errno.ELOOP
    fd = oscalls.open_file(target, os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"secret"
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)


def test_a_new_file_gets_its_mode_from_the_start(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        fd = oscalls.open_file(tmp_path / "new", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    finally:
        os.umask(old)
    os.close(fd)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o600


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_set_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        monkeypatch.setattr(sys, "platform", platform)
        oscalls.set_mode(fd, path, 0o644)
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_directories_open_on_posix_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.close(oscalls.open_dir(tmp_path))
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(OSError):
        oscalls.open_dir(tmp_path / "link")
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(OSError):
        oscalls.open_dir(tmp_path)


# This host's own platform for the POSIX row: the peer credential call differs between Linux and macOS.
@pytest.mark.parametrize(("platform", "unix", "uid"), [(sys.platform, True, ME), ("win32", False, None)],
                         ids=["this host", "win32"])
def test_unix_socket_peer(monkeypatch: pytest.MonkeyPatch, platform: str, unix: bool, uid: int | None) -> None:
    left, right = socket.socketpair()
    with left, right:
        monkeypatch.setattr(sys, "platform", platform)
        assert oscalls.is_unix_socket(left) is unix
        assert oscalls.unix_peer_uid(left) == uid


def test_a_listening_socket_is_seen(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        assert oscalls.unix_socket_listening(path)
    assert not oscalls.unix_socket_listening(path)  # stale: nothing listens


@pytest.mark.parametrize(("deletable", "directory_locked"), [(True, True), (False, False)])
def test_the_profile_lock_locks_the_state_directory_only_where_a_held_lock_file_can_be_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deletable: bool, directory_locked: bool) -> None:
    from authcli import locking
    from authcli.config import Paths
    from authcli.iostreams import IOStreams

    opened: list[Path] = []

    def open_dir(path: Path) -> int:
        opened.append(path)
        return oscalls.open_dir(path)

    monkeypatch.setattr(locking, "LOCKED_FILES_DELETABLE", deletable)
    monkeypatch.setattr(locking, "open_dir", open_dir)
    paths = Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state")
    with locking.profile_lock(paths, "p", 5.0, IOStreams.test(), {}) as held:
        assert held
    assert opened == ([paths.state_dir] if directory_locked else [])


@pytest.mark.parametrize(("platform", "refusals", "replaced"), [
    ("linux", 1, False),  # POSIX never refuses for an open file: a PermissionError is real
    ("win32", 3, True),  # a reader's moment with the file open is waited out
    ("win32", 10**6, False),  # ...but not for ever
])
def test_replace_waits_out_a_reader_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str,
                                               refusals: int, replaced: bool) -> None:
    (tmp_path / "new").write_text("new")
    (tmp_path / "old").write_text("old")
    real, left = os.replace, [refusals]

    def sharing_violation(source: Any, target: Any) -> None:
        if left[0]:
            left[0] -= 1
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        real(source, target)

    monkeypatch.setattr(os, "replace", sharing_violation)
    monkeypatch.setattr(oscalls, "REPLACE_PATIENCE", 0.2)
    monkeypatch.setattr(sys, "platform", platform)
    if replaced:
        oscalls.replace(tmp_path / "new", tmp_path / "old")
        assert (tmp_path / "old").read_text() == "new"
    else:
        with pytest.raises(PermissionError):
            oscalls.replace(tmp_path / "new", tmp_path / "old")
        assert (tmp_path / "old").read_text() == "old"


def test_signals_are_the_ones_this_platform_has(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    assert oscalls.signals("SIGTERM", "SIGHUP", "SIGQUIT") == [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
    monkeypatch.delattr(signal, "SIGHUP")  # as on Windows
    monkeypatch.delattr(signal, "SIGQUIT")
    assert oscalls.signals("SIGTERM", "SIGHUP", "SIGQUIT") == [signal.SIGTERM]


def test_open_to_others_takes_the_bits_that_matter() -> None:
    assert not oscalls.open_to_others(info(stat.S_IFREG | 0o640), 0o026)
    assert oscalls.open_to_others(info(stat.S_IFREG | 0o660), 0o026)
    assert oscalls.open_to_others(info(stat.S_IFREG | 0o604), 0o026)
