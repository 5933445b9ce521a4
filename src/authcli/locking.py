"""The per-profile cross-process lock.

A dedicated, never-deleted lock file per profile in the private state dir, locked with
flock through filelock (no soft fallback: a lock that silently degrades is no lock).
The kernel releases it the moment its holder dies, SIGKILL included.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Mapping

from .config import Paths
from .errors import LockTimeout, StorageError
from .fsutil import ensure_private_dir
from .io import IOStreams

NOTICE_AFTER = 2.0
POLL = 0.2  # seconds between a waiter's looks at the store
# Test-only: lets the concurrency tests show what happens without the lock.
DISABLE_ENV = "AUTHCLI_TEST_DISABLE_LOCK"


def lock_path(paths: Paths, profile: str) -> Path:
    return paths.locks_dir / f"{profile}.lock"


def _create_lock_file(path: Path) -> None:
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise StorageError(f"cannot create lock file {path}: {exc.strerror or exc}") from None
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
    """Hold the profile's lock: yields True once held.

    With ``ready``, a waiter checks it between attempts and, once it is true (another process
    finished the work this one was waiting to do), yields False without ever taking the lock.
    Otherwise N waiters would each take the lock in turn just to re-read a result that is
    already there: with 200 processes and a slow keyring that queue outlasts any timeout.
    """
    if env.get(DISABLE_ENV) == "1":
        yield True
        return
    from filelock import FileLock, Timeout

    path = lock_path(paths, profile)
    _create_lock_file(path)
    lock = FileLock(str(path), fallback_to_soft=False, preserve_lock_file=True, thread_local=False)
    start = time.monotonic()
    noticed = False
    held = False
    try:
        while not held:
            left = timeout - (time.monotonic() - start)
            try:
                lock.acquire(timeout=max(0.0, min(POLL, left)))
                held = True
            except Timeout:
                if ready is not None and ready():
                    break
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise LockTimeout(
                        f"another authcli process held the lock for profile '{profile}' for more than "
                        f"{timeout:g}s; try again, or raise AUTHCLI_LOCK_TIMEOUT (lock file: {path})"
                    ) from None
                if not noticed and io.stderr_tty and waited >= NOTICE_AFTER:
                    io.info(f"authcli: waiting for another authcli process using profile '{profile}'...")
                    noticed = True
    except OSError as exc:
        raise StorageError(f"cannot lock {path}: {exc.strerror or exc}") from None
    try:
        yield held
    finally:
        if held:
            lock.release()
