"""Private directories and atomic, private file writes.

Every directory on the way to a secret (config dir, state dir, tokens, locks) is created 0700
and, when it already exists, must belong to this user and be writable by nobody else: as ssh
refuses a ~/.ssh that others could write, authcli refuses to keep or read a session where
another user could swap the files under it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .errors import StorageError, UsageError
from .oscalls import make_mine_hint, open_file, replace, require_unix_sockets, unix_socket_listening
from .rules import dir_problem

T = TypeVar("T")


def check_private_dir(path: Path) -> bool:
    """True when ``path`` is a safe directory, False when it does not exist; else StorageError."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageError(f"cannot use {path}: {exc.strerror or exc}") from None
    problem = dir_problem(info)
    if problem == "not a directory":
        raise StorageError(f"{path} is not a directory; move it away so authcli can create its own")
    if problem == "another owner":
        raise StorageError(
            f"{path} belongs to another user (uid {info.st_uid}), who could read or replace the sessions "
            f"in it; remove it, or make it yours with: {make_mine_hint(path)}"
        )
    if problem == "writable by others":
        raise StorageError(
            f"{path} is writable by other users, who could replace the files in it; fix it with: chmod go-w {path}"
        )
    return True


def ensure_private_dir(path: Path, top: Path | None = None) -> None:
    """Create ``path`` and its missing parents as 0700 and check every directory from ``top``
    (the outermost of authcli's own directories) down to ``path``. Directories above ``top``
    (a home directory, /tmp) are not authcli's and are left alone."""
    chain = _chain(path, top)
    for directory in chain:
        if check_private_dir(directory):
            continue
        try:
            directory.mkdir(mode=0o700, parents=directory == chain[0])
        except FileExistsError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot create {directory}: {exc.strerror or exc}") from None
        check_private_dir(directory)  # the mkdir raced another creator: check what won


def check_private_chain(path: Path, top: Path | None = None) -> bool:
    """Check the existing directories from ``top`` down to ``path`` without creating any.
    False when ``path`` does not exist."""
    return all(check_private_dir(directory) for directory in _chain(path, top))


def _chain(path: Path, top: Path | None) -> list[Path]:
    if top is None or not path.is_relative_to(top):
        return [path]
    chain = [path]
    while chain[-1] != top:
        chain.append(chain[-1].parent)
    return list(reversed(chain))


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new content, never a part.

    The temporary file is created with ``mode`` from the first byte (O_CREAT|O_EXCL with the
    mode, no chmod afterwards) in the same directory, fsynced, then renamed over ``path``.
    The directory must exist (ensure_private_dir).
    """
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    try:
        _write_new(tmp, data, mode)
        replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)


def probe_write(directory: Path, size: int) -> None:
    """Prove that ``size`` bytes can be written and synced in ``directory`` (then remove them):
    an OSError says why a real write would fail (full disk, read-only file system, quota)."""
    tmp = directory / f".probe.{os.urandom(6).hex()}.tmp"
    try:
        _write_new(tmp, b"\0" * size, 0o600)
    finally:
        _remove(tmp)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (it must not exist; never through a symlink) with ``mode``, write all of
    ``data`` and fsync it."""
    fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def bind_private_socket(path: str, bind: Callable[[], T]) -> T:
    """``bind()`` a Unix socket at ``path``, created 0600: the umask is the only way to create a
    socket file with a mode, so it is narrowed around the bind (call before starting threads).
    A stale socket (nothing listens) from a run that did not clean up is replaced."""
    require_unix_sockets()
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"cannot use --socket {path}: {exc.strerror or exc}") from None
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise UsageError(f"{path} exists and is not a socket; choose another --socket path")
        if unix_socket_listening(path):
            raise UsageError(f"another process listens on {path}; stop it or choose another --socket path")
        os.unlink(path)
    old = os.umask(0o177)
    try:
        return bind()
    except OSError as exc:
        raise UsageError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
