"""Cross-process locks: one per profile (its session), one for config.toml.

A dedicated, never-deleted lock file in the private state dir, locked with flock through
filelock's descriptor lock. The kernel releases it the moment its holder dies, SIGKILL
included. authcli opens the file itself (oscalls.open_file): O_NOFOLLOW, so a symlink planted at the lock path
is refused instead of followed, and the descriptor is kept open between attempts, so a
waiter keeps waiting on the file the holder holds even if the path is deleted meanwhile.
Once locked, the descriptor must still be the file at the path (device and inode): a lock
on a file that was deleted or replaced excludes nobody, so then it starts again.

A lock file can still be deleted while it is held (not on Windows: oscalls.LOCKED_FILES_DELETABLE),
and a process started after that creates a new one that excludes nobody. So the profile lock
has a second stage: its holder also locks
the state directory, which holds the lock files and the file store's session records
(state/tokens), so it cannot be deleted without deleting those sessions themselves.
Same-profile processes queue on the profile's file, so the directory is only ever contended
by holders; refreshes of different profiles on one machine take turns for one refresh.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .config import Paths, check_profile_name
from .errors import LockTimeout, StorageError
from .iostreams import IOStreams
from .oscalls import LOCKED_FILES_DELETABLE, open_dir, open_file

NOTICE_AFTER = 2.0
POLL = 0.05  # seconds between attempts at the lock
LOOK_EVERY = 0.2  # seconds between a waiter's looks at the store
# Test-only: lets the concurrency tests show what happens without the lock.
DISABLE_ENV = "AUTHCLI_TEST_DISABLE_LOCK"
CONFIG_LOCK = ".config.lock"  # a profile name cannot start with '.'


def lock_path(paths: Paths, profile: str) -> Path:
    return paths.locks_dir / f"{check_profile_name(profile)}.lock"


def _open(path: Path) -> int:
    try:
        fd = open_file(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StorageError(
                f"lock file {path} is a symbolic link, which authcli never follows; remove it and try again"
            ) from None
        raise StorageError(f"cannot create lock file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StorageError(f"lock file {path} is not a regular file; remove it and try again")
    return fd


def _open_dir(path: Path) -> int:
    """A directory to flock (created private by the caller); a symlink in its place is refused."""
    try:
        return open_dir(path)
    except OSError as exc:
        raise StorageError(f"cannot open {path} to lock it: {exc.strerror or exc}") from None


def _is_at(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not deleted, not replaced)."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except OSError:
        return False  # gone (or unreadable): reopening says which
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


@contextmanager
def file_lock(
    path: Path,
    timeout: float,
    what: str,
    io: IOStreams,
    ready: Callable[[], bool] | None = None,
    opener: Callable[[Path], int] = _open,
) -> Iterator[bool]:
    """Hold the lock at ``path`` (its directory must be private): yields True once held.

    With ``ready``, a waiter checks it between attempts and, once it is true (another process
    finished the work this one was waiting to do), yields False without ever taking the lock.
    Otherwise N waiters would each take the lock in turn just to re-read a result that is
    already there: with 200 processes and a slow keyring that queue outlasts any timeout.
    """
    from filelock import lock_descriptor, unlock_descriptor

    start = time.monotonic()
    looked = start
    noticed = False
    fd = opener(path)
    try:
        while True:
            try:
                locked = lock_descriptor(fd, blocking=False)
            except OSError as exc:
                raise StorageError(f"cannot lock {path}: {exc.strerror or exc}") from None
            if locked and _is_at(fd, path):
                break
            if locked:  # the file was deleted or replaced: next time, lock whatever is there now
                unlock_descriptor(fd)
                os.close(fd)
                fd = -1
                fd = opener(path)
            now = time.monotonic()
            if ready is not None and now - looked >= LOOK_EVERY:
                looked = now
                if ready():
                    yield False
                    return
            waited = now - start
            if waited >= timeout:
                raise LockTimeout(
                    f"another authcli process held the lock for {what} for more than "
                    f"{timeout:g}s; try again, or raise AUTHCLI_LOCK_TIMEOUT (lock file: {path})"
                )
            if not noticed and io.stderr_tty and waited >= NOTICE_AFTER:
                io.info(f"authcli: waiting for another authcli process using {what}...")
                noticed = True
            time.sleep(min(POLL, max(0.0, timeout - waited)))
        try:
            yield True
        finally:
            unlock_descriptor(fd)
    finally:
        if fd >= 0:
            os.close(fd)


@contextmanager
def profile_lock(
    paths: Paths,
    profile: str,
    timeout: float,
    io: IOStreams,
    env: Mapping[str, str],
    ready: Callable[[], bool] | None = None,
) -> Iterator[bool]:
    """The profile's session lock; see file_lock for ``ready``."""
    from .testswitch import switch

    if switch(env, DISABLE_ENV) == "1":
        yield True
        return
    path = lock_path(paths, profile)
    paths.private(paths.locks_dir)
    state = paths.private(paths.state_dir)
    with file_lock(path, timeout, f"profile '{profile}'", io, ready) as held:
        if not held or not LOCKED_FILES_DELETABLE:
            yield held
            return
        with file_lock(state, timeout, f"the state directory ({state})", io, ready,
                       opener=_open_dir) as still:
            yield still


@contextmanager
def config_lock(paths: Paths, timeout: float, io: IOStreams) -> Iterator[None]:
    """Serialises read-change-write of config.toml across processes."""
    paths.private(paths.locks_dir)
    with file_lock(paths.locks_dir / CONFIG_LOCK, timeout, "config.toml", io):
        yield
