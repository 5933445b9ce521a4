"""A deadline for a whole exchange, not for each read.

httpx's timeouts bound each connect, read and write: a server that drips one byte every
0.3 s never trips a 30 s read timeout and can hold a login, a refresh (and with it the
profile lock) for as long as it likes. A deadline arms SIGALRM for the whole exchange; the
handler raises in the main thread, interrupting whatever read is in progress.

Signals reach only the main thread: elsewhere (no caller today) the per-read timeouts are
all there is. Deadlines nest (the inner one can only shorten the outer), and ``paused()``
stops the clock while a command waits for something that is not the server, such as the
profile lock a sibling holds while it refreshes.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def deadline(seconds: float, expired: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``expired()`` wherever the block is when ``seconds`` have passed."""
    if not _usable() or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise expired()

    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    outer_handler = signal.signal(signal.SIGALRM, expire)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer_left) if outer_left else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - start), 0.001))


@contextmanager
def paused() -> Iterator[None]:
    """Stop the running deadline's clock for the block (a lock wait is not the server's time)."""
    if not _usable():
        yield
        return
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    if not left:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, left)
