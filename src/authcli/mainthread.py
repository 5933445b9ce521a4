"""The main thread of a long-running command (`proxy`, and the proxy `exec` leaves behind).

Everything asynchronous reaches the main thread through one socket pair it blocks on: a signal's
handler (Python runs them on the main thread) notes the signal and writes a byte, and so
does the C-level handler through signal.set_wakeup_fd, whichever thread the signal
interrupted; a worker that queues an engine call for the main thread (``call``) writes one
too, and so does ``stop()`` from any thread. Handlers and a socket pair (Windows wakes only
sockets) are all there is on macOS and Windows too (no sigwaitinfo there), so Linux runs the
code they run.

Engine calls (refreshes) run here rather than in the proxy's worker threads: they keep the
keyring's D-Bus connection on one thread, and one engine call at a time. (The whole-exchange
deadline, deadline.py, is per thread and needs no signal.)

How `exec` passes signals on is in sideproxy.py: it does not, the kernel does, because
authcli has become the program.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from queue import Empty, SimpleQueue
from types import FrameType
from typing import TypeVar

from .oscalls import signals

T = TypeVar("T")

STOP = frozenset(signals("SIGINT", "SIGTERM", "SIGHUP"))
STOPPED = 0  # what run() returns after stop()


class MainLoop:
    """Create it in the main thread; ``close()`` it (the handlers it installed go back)."""

    def __init__(self, stop_signals: bool = True) -> None:
        """``stop_signals``: SIGINT, SIGTERM and SIGHUP end ``run()`` (else only ``stop()`` does)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("MainLoop belongs to the main thread")
        self._main = threading.get_ident()
        self._jobs: SimpleQueue[tuple[Callable[[], object], Future[object]]] = SimpleQueue()
        self._noted: deque[int] = deque()
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)  # a full buffer already wakes the loop
        self._saved: dict[int, signal.Handlers | Callable[[int, FrameType | None], object] | int | None] = {}
        self._old_wakeup = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        try:
            for signum in (STOP if stop_signals else ()):
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored by whoever started authcli (nohup): so be it
                self._saved[signum] = signal.signal(signum, self._note)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for signum, handler in self._saved.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._saved.clear()
        self._read.close()
        self._write.close()

    def call(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the main thread and return (or raise) what it did; from a worker."""
        if threading.get_ident() == self._main:
            return job()
        future: Future[object] = Future()
        self._jobs.put((job, future))
        self._poke()
        return future.result()  # type: ignore[return-value]

    def stop(self) -> None:
        """End ``run()``, from any thread: it returns STOPPED."""
        self._noted.append(STOPPED)
        self._poke()

    def run(self) -> int:
        """Serve calls until a stop signal arrives (returns its number) or ``stop()``."""
        while True:
            self._run_jobs()
            if self._noted:
                return self._noted.popleft()
            self._wait()

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._noted.append(signum)
        self._poke()  # the C handler's byte may already have been read before this ran

    def _poke(self) -> None:
        with suppress(BlockingIOError):
            self._write.send(b"\0")

    def _wait(self) -> None:
        self._read.recv(4096)

    def _run_jobs(self) -> None:
        while True:
            try:
                job, future = self._jobs.get_nowait()
            except Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the worker that asked, which reports it
                future.set_exception(exc)
