"""The main thread of a long-running command (`proxy`, `exec`): signals, engine calls, a child.

Everything asynchronous reaches the main thread as a signal it waits for with sigwaitinfo:
SIGINT/SIGTERM/SIGHUP to stop (or to pass on to a child), SIGCHLD when the child exits, and
SIGUSR1 when a worker thread has queued a call for the main thread. Those signals are
blocked in every thread (threads inherit the mask), so none of them interrupts a worker.

Engine calls (refreshes) run here rather than in the proxy's worker threads because the
whole-exchange deadline (deadline.py) is a SIGALRM, which only the main thread receives: a
server that drips its refresh answer cannot hold the profile lock for longer than in any
other command. They also keep the keyring's D-Bus connection on one thread.

sigwaitinfo tells who sent a signal: a SIGINT the terminal generated (si_code SI_KERNEL)
reached the child too, in the same foreground process group, so only signals sent by a
process (`kill`, a CI runner) are passed on; a child never gets Ctrl-C twice.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from typing import TypeVar

T = TypeVar("T")

STOP = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
WAKE = signal.SIGUSR1
WATCHED = STOP | {signal.SIGCHLD, WAKE}
SI_KERNEL = 0x80  # <asm-generic/siginfo.h>: sent by the kernel (the terminal's Ctrl-C)


class MainLoop:
    """Create it in the main thread before any worker thread starts (they inherit the mask)."""

    def __init__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("MainLoop belongs to the main thread")
        self._main = threading.get_ident()
        self._jobs: SimpleQueue[tuple[Callable[[], object], Future[object]]] = SimpleQueue()
        self.outside_mask = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)  # for a child to start with

    def close(self) -> None:
        # Signals already dealt with (a Ctrl-C the child got too, one passed on) must not
        # fire again once unblocked.
        while signal.sigtimedwait(WATCHED, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, self.outside_mask)

    def call(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the main thread and return (or raise) what it did; from a worker."""
        if threading.get_ident() == self._main:
            return job()
        future: Future[object] = Future()
        self._jobs.put((job, future))
        signal.pthread_kill(self._main, WAKE)
        return future.result()  # type: ignore[return-value]

    def run(self, child: int | None = None) -> int | None:
        """Serve calls until a stop signal (returns its number) or the child's exit (returns None,
        the child still to be reaped by the caller). A stop signal goes to the child instead,
        when there is one, and the loop waits for the child to act on it."""
        while True:
            self._run_jobs()
            if child is not None and _exited(child):
                return None
            info = signal.sigwaitinfo(WATCHED)
            if info.si_signo in STOP:
                if child is None:
                    return info.si_signo
                if info.si_code != SI_KERNEL and info.si_pid != child:
                    try:
                        os.kill(child, info.si_signo)
                    except ProcessLookupError:
                        pass

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


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (waitid with WNOWAIT)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None
