"""The main thread of a long-running command (`proxy`, `exec`): signals, engine calls, a child.

Everything asynchronous reaches the main thread through one pipe it blocks on: a signal's
handler (Python runs them on the main thread) notes the signal and writes a byte, and so
does the C-level handler through signal.set_wakeup_fd, whichever thread the signal
interrupted; a worker that queues an engine call for the main thread (``call``) writes one
too; the child's change of state is a SIGCHLD, then waitpid. No signal serves authcli's own
purposes (SIGUSR1 used to be the wake-up, and was never passed on), and handlers, a pipe and
waitpid are all there is on macOS too (no sigwaitinfo there).

Engine calls (refreshes) run here rather than in the proxy's worker threads: they keep the
keyring's D-Bus connection on one thread, and one engine call at a time. (The whole-exchange
deadline, deadline.py, is per thread and needs no signal, so an ALRM is always the program's.)

How `exec` passes signals on, each exactly once
-----------------------------------------------
The program runs in a process group of its own, and authcli passes on every signal it can
catch (HUP, INT, QUIT, USR1, USR2, ALRM, TERM, CONT, TSTP, WINCH, the real-time ones...) to
that group, as dumb-init does. Route by route:

- sent to authcli's pid (`kill`, a supervisor, `docker stop`): only authcli has it; passed on.
- sent to authcli's process group (`kill -TERM -PGID`, `timeout`, CI runners): the program
  is not in that group, so again only authcli has it; passed on.
- typed at the terminal (Ctrl-C, Ctrl-\\, Ctrl-Z) or a window resize: the terminal signals
  its foreground group only, and when authcli's group is in the foreground authcli hands the
  foreground to the program's group (jobcontrol.py), as tini does: the program and its
  children have it straight from the terminal, authcli never sees it. In a pipeline authcli
  keeps the foreground for the pipeline's group (a pager needs it): what is typed reaches
  authcli and the pager, and authcli passes it on.
- sent to every process of the job one by one (systemd's KillMode=control-group, `pkill`):
  the program has it from the sender and once more from authcli. Nothing on authcli's side
  tells this apart from the first route (the program may have handled its copy before
  authcli wakes; pending-signal masks in /proc are gone by then), and only tracing the
  program with ptrace would, at the price of debuggers, setuid programs and hardened
  kernels; so this route delivers twice, as with tini and dumb-init. Send to authcli alone
  (systemd: KillMode=mixed).

One process group per program rather than sharing authcli's is what keeps the second route
exact without the sender's identity (sigwaitinfo tells a terminal's SI_KERNEL from kill's
SI_USER, but not kill(pid) from kill(-pgid), and does not exist on macOS).

Job control: when the program stops (Ctrl-Z, or it reads the terminal while in the
background) and authcli has a terminal, authcli stops itself with SIGSTOP so that the shell
sees the job stop (dumb-init does the same); `fg`/`bg` continue authcli, which hands the
terminal back to the program when it is in the foreground and passes the SIGCONT on. A
program that stops for the terminal (SIGTTIN, SIGTTOU) while authcli's group holds it is
given the terminal and continued instead. Without a terminal there is no job control: a
stopped program waits for a SIGCONT, which authcli passes on. authcli ignores SIGTTIN and
SIGTTOU itself, as tini does, so that its own writes to a terminal it handed over never stop
it; the program starts with them at their defaults.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from queue import Empty, SimpleQueue
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .jobcontrol import Terminal

T = TypeVar("T")

STOP = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
# Not passed on: what cannot be caught, what reports on authcli itself (a fault, a write to a
# closed pipe or past a limit, its own children) and the terminal's access checks.
_KEPT = {getattr(signal, name) for name in (
    "SIGKILL", "SIGSTOP", "SIGCHLD", "SIGPIPE", "SIGXFSZ", "SIGXCPU", "SIGTTIN", "SIGTTOU",
    "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS") if hasattr(signal, name)}
PASSED_ON = frozenset(signal.valid_signals()) - _KEPT
TERMINAL_CHECKS = (signal.SIGTTIN, signal.SIGTTOU)
PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)


class MainLoop:
    """Create it in the main thread; ``close()`` it (the handlers it installed go back)."""

    def __init__(self, child: bool = False) -> None:
        """``child``: signals are for a program (`exec`) rather than stop signals (`proxy`)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("MainLoop belongs to the main thread")
        self._main = threading.get_ident()
        self._jobs: SimpleQueue[tuple[Callable[[], object], Future[object]]] = SimpleQueue()
        self._noted: deque[int] = deque()
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # a full pipe already wakes the loop
        self._saved: dict[int, signal.Handlers | Callable[[int, FrameType | None], object] | int | None] = {}
        self.child_defaults: tuple[int, ...] = PYTHON_IGNORES  # dispositions a program starts with
        self._old_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        try:
            for signum in (PASSED_ON | {signal.SIGCHLD} if child else STOP):
                if signal.getsignal(signum) is signal.SIG_IGN and signum != signal.SIGCHLD:
                    continue  # ignored by whoever started authcli (nohup): the program inherits that
                self._saved[signum] = signal.signal(signum, self._note)
            if child:
                for signum in TERMINAL_CHECKS:
                    self._saved[signum] = signal.signal(signum, signal.SIG_IGN)
                    if self._saved[signum] is not signal.SIG_IGN:
                        self.child_defaults += (signum,)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for signum, handler in self._saved.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._saved.clear()
        os.close(self._read)
        os.close(self._write)

    def call(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the main thread and return (or raise) what it did; from a worker."""
        if threading.get_ident() == self._main:
            return job()
        future: Future[object] = Future()
        self._jobs.put((job, future))
        self._poke()
        return future.result()  # type: ignore[return-value]

    def run(self) -> int:
        """Serve calls until a stop signal arrives; returns its number."""
        while True:
            self._run_jobs()
            if self._noted:
                return self._noted.popleft()
            self._wait()

    def supervise(self, child: int, terminal: Terminal | None) -> int:
        """Serve calls and pass every signal on to ``child``'s process group until it exits;
        returns its wait status (the child reaped)."""
        if terminal is not None and terminal.for_program:
            terminal.give(child)
        try:
            while True:
                self._run_jobs()
                self._pass_on(child, terminal)
                pid, status = os.waitpid(child, os.WNOHANG | os.WUNTRACED)
                if pid == 0:
                    self._wait()
                elif os.WIFSTOPPED(status):
                    _stopped(child, os.WSTOPSIG(status), terminal)
                else:
                    return status
        finally:
            if terminal is not None:
                terminal.take_back(child)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._noted.append(signum)
        self._poke()  # the C handler's byte may already have been read before this ran

    def _poke(self) -> None:
        with suppress(BlockingIOError):
            os.write(self._write, b"\0")

    def _wait(self) -> None:
        os.read(self._read, 4096)

    def _pass_on(self, child: int, terminal: Terminal | None) -> None:
        while self._noted:
            signum = self._noted.popleft()
            if signum == signal.SIGCHLD:
                continue
            if signum == signal.SIGCONT and terminal is not None and terminal.for_program:
                terminal.give(child)  # `fg`: the shell gave authcli's group the terminal
            _signal_group(child, signum)

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


def _stopped(child: int, signum: int, terminal: Terminal | None) -> None:
    if terminal is None:
        return  # no job control: the program waits for a SIGCONT, which authcli passes on
    if signum in TERMINAL_CHECKS and terminal.give(child):
        terminal.for_program = True  # it wants the terminal authcli's group was holding
        _signal_group(child, signal.SIGCONT)
        return
    os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees the job stop; its SIGCONT is passed on


def _signal_group(child: int, signum: int) -> None:
    """The child's process group, or the child alone if it has left the group it started in."""
    try:
        if os.getpgid(child) == child:
            os.killpg(child, signum)
        else:
            os.kill(child, signum)
    except ProcessLookupError:
        pass  # it has just exited: waitpid says so next
