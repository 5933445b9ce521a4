"""The per-profile cross-process lock.

A dedicated, never-deleted lock file per profile in the private state dir, locked with
flock through filelock (no soft fallback: a lock that silently degrades is no lock).
The kernel releases it the moment its holder dies, SIGKILL included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping

from .config import Paths
from .errors import LockTimeout, StorageError
from .fsutil import ensure_private_dir
from .io import IOStreams

NOTICE_AFTER = 2.0
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
) -> Iterator[None]:
    if env.get(DISABLE_ENV) == "1":
        yield
        return
    from filelock import FileLock, Timeout

    path = lock_path(paths, profile)
    _create_lock_file(path)
    lock = FileLock(
        str(path),
        timeout=timeout,
        fallback_to_soft=False,
        preserve_lock_file=True,
        thread_local=False,
    )
    try:
        if io.stderr_tty and timeout > NOTICE_AFTER:
            try:
                lock.acquire(timeout=NOTICE_AFTER)
            except Timeout:
                io.info(f"authcli: waiting for another authcli process using profile '{profile}'...")
                lock.acquire(timeout=timeout - NOTICE_AFTER)
        else:
            lock.acquire(timeout=timeout)
    except Timeout:
        raise LockTimeout(
            f"another authcli process held the lock for profile '{profile}' for more than {timeout:g}s; "
            f"try again, or raise AUTHCLI_LOCK_TIMEOUT (lock file: {path})"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot lock {path}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()
