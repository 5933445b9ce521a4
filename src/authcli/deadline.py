"""A deadline for a whole exchange, not for each read, on every platform and in every thread.

httpx's timeouts bound each connect, read and write: a server that drips one byte every
0.3 s never trips a 30 s read timeout and can hold a login, a refresh (and with it the
profile lock) for as long as it likes. A deadline records, for the current thread, the
moment the exchange must be over; the HTTP client's network streams (netdeadline.py) give
every connect, read and write only the time left, so a dripping server is cut off at the
deadline, in the proxy's worker threads as in the main thread, on Linux, macOS and Windows.
(No signal: SIGALRM existed only on POSIX and only in the main thread.)

Deadlines nest (the inner one can only shorten the outer), and ``paused()`` stops the clock
while a command waits for something that is not the server, such as the profile lock a
sibling holds while it refreshes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _State(threading.local):
    until: float | None = None  # time.monotonic() by which the exchange must be over
    expired: Callable[[], BaseException] | None = None


_state = _State()


def remaining() -> float | None:
    """Seconds left before the current thread's deadline, or None when none is running."""
    until = _state.until
    return None if until is None else until - time.monotonic()


def expired_error() -> BaseException:
    """What the running deadline raises when it has passed."""
    make = _state.expired
    return make() if make is not None else TimeoutError("the deadline passed")


@contextmanager
def deadline(seconds: float, expired: Callable[[], BaseException]) -> Iterator[None]:
    """Every network read, write and connect in the block ends by ``seconds`` from now, then
    raises ``expired()``."""
    outer = (_state.until, _state.expired)
    if seconds <= 0:
        yield
        return
    until = time.monotonic() + seconds
    if outer[0] is None or until < outer[0]:
        _state.until, _state.expired = until, expired
    try:
        yield
    finally:
        _state.until, _state.expired = outer


@contextmanager
def paused() -> Iterator[None]:
    """Stop the running deadline's clock for the block (a lock wait is not the server's time)."""
    left = remaining()
    if left is None:
        yield
        return
    _state.until = None
    try:
        yield
    finally:
        _state.until = time.monotonic() + max(left, 0.0)
