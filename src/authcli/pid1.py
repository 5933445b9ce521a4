"""`authcli exec` as a container's PID 1 (`ENTRYPOINT ["authcli", "exec", "--", "app"]`).

Everywhere else authcli becomes the program (sideproxy.py). As PID 1 it must not: the kernel
delivers no signal to PID 1 that it does not handle, so a program there that leaves SIGTERM at
its default would ignore `docker stop` until the SIGKILL ten seconds later, and nothing would
reap the orphans its children leave. So, as tini does, authcli forks: the child goes on to
start the proxy and become the program, and PID 1 stays behind as a minimal init:

- every signal sent to it with kill() (`docker stop`, `docker kill -s`, `kill 1`) is passed on
  to the program once; a signal the kernel generated (a terminal's Ctrl-C or resize under
  `docker run -t`, which the terminal sends to the whole foreground group, the program
  included) is not passed on, so it arrives once too;
- every child that ends is reaped (the program's orphans are re-parented to PID 1);
- when the program ends, PID 1 exits with its status (128+N for a signal N, as tini).

Linux only: containers' PID 1 is Linux's (sigwaitinfo tells a kill() from the kernel's own).
"""

from __future__ import annotations

import os
import signal
import sys

# What the kernel reports about PID 1 itself, or cannot be caught: never passed on.
_OWN = ("SIGKILL", "SIGSTOP", "SIGCHLD", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP",
        "SIGSYS", "SIGPIPE", "SIGXFSZ", "SIGXCPU", "SIGTTIN", "SIGTTOU")
SI_USER_MAX = 0  # si_code <= 0: sent by a process (SI_USER, SI_QUEUE, SI_TKILL); > 0: by the kernel


def stay_as_init() -> None:
    """As PID 1 on Linux, fork; the parent serves as init and never returns. Elsewhere (and in
    the child) return at once."""
    if sys.platform != "linux" or os.getpid() != 1:
        return
    passed_on = set(signal.valid_signals()) - {getattr(signal, name) for name in _OWN}
    watched = passed_on | {signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)  # before the fork: nothing slips by
    program = os.fork()
    if program == 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)
        return
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo == signal.SIGCHLD:
            _reap(program)
        elif info.si_code <= SI_USER_MAX:
            try:
                os.kill(program, info.si_signo)
            except ProcessLookupError:
                pass  # it has just ended: the SIGCHLD is pending


def _reap(program: int) -> None:
    """Reap every child that has ended; exit with the program's status once it has."""
    if sys.platform != "linux":
        return
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == program:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)
