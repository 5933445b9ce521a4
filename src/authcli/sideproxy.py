"""The proxy `authcli exec` starts beside the program, and how the program's signals stay its own.

`authcli exec` replaces itself with the program (execve), so the program is the very process
the shell, supervisor or terminal started. Every signal then reaches it exactly once, from
the kernel, whichever way it was sent: to its pid (`kill`, a supervisor, `docker stop`), to
its process group (`kill -TERM -PGID`, `timeout`), to every process of the job one by one
(systemd's KillMode=control-group, `pkill`, `kill -1`) or typed at the terminal (it is in
the foreground group the shell made); job control is the shell's own (Ctrl-Z, `fg`), and
the job's exit status is the program's. A supervisor in between (tini, dumb-init, the
authcli before this one) passes signals on, and a signal sent to every process reaches the
program twice: once from the sender, once passed on.

The proxy is a process of its own, `authcli proxy --exit-with PID`, started before the exec:

- **ready before the program starts**: it prints its URL and local secret on a pipe that
  authcli reads before the exec; a proxy that cannot start (no session, a bad profile) says
  why on stderr and exits, and authcli exits with its code;
- **deaf to the job's signals** once it serves: a TERM to every process of a unit leaves it
  serving while the program shuts down, which may still call the API;
- **gone with the program**: it is the program's child (the exec keeps authcli's children),
  and looks every 0.2 s whether its parent is still the program, then closes. A child is reparented the
  moment its parent exits, before anyone reaps the parent, so this holds while a caller
  such as Python's subprocess.run reads the job's output to the end before reaping it (a
  proxy that waited for the program's pid to vanish would keep that output open, and both
  would wait for ever). The price: the program has one child it did not start, which only
  a program that waits for *any* child to exit could notice, and it outlives the program.

On Windows a process cannot be replaced: authcli starts the program, waits for it (the
console gives Ctrl-C to both, and authcli ignores it), ends the proxy and exits with the
program's code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from .context import Context
from .errors import ExitCode, ProgramNotExecutable, ProgramNotFound
from .oscalls import signals

if TYPE_CHECKING:
    from .mainthread import MainLoop

WATCH_INTERVAL = 0.2
# Signals that report on the proxy itself, or cannot be caught: left as they are.
_OWN = set(signals("SIGKILL", "SIGSTOP", "SIGCHLD", "SIGPIPE", "SIGXFSZ", "SIGXCPU", "SIGSEGV", "SIGBUS", "SIGFPE",
                    "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS", "SIGCONT"))


@dataclass
class Beside:
    """A proxy serving beside the program: its URL and local secret."""

    url: str
    secret: str
    process: subprocess.Popen[bytes]


def start(ctx: Context, profile: str | None, verbose: bool) -> Beside | int:
    """Start the proxy; a Beside once it serves, or the exit code of a proxy that did not
    start (it has said why on stderr)."""
    argv = [sys.executable, "-m", "authcli", *(["--debug"] if ctx.debug else []), "proxy",
            "--exit-with", str(os.getpid()), *(["--profile", profile] if profile else []),
            *([] if verbose else ["--quiet"])]
    flags = 0
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP  # Ctrl-Break is the program's
    process = subprocess.Popen(argv, env=dict(ctx.env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               creationflags=flags)
    assert process.stdout is not None
    with process.stdout:
        told = process.stdout.read(512).splitlines()
        while len(told) < 2 and (more := process.stdout.read(512)):
            told = (b"\n".join(told) + more).splitlines()
    if len(told) < 2:
        return process.wait()
    return Beside(told[0].decode(), told[1].decode(), process)


def become(command: list[str], env: Mapping[str, str], beside: Beside | None = None) -> int:
    """Replace authcli with ``command`` (on Windows: run it and return its exit code)."""
    program = command[0]
    try:
        if sys.platform == "win32":
            return _run_and_wait(command, env, beside)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(program, command, env)
    except FileNotFoundError:
        raise ProgramNotFound(f"{program}: command not found") from None
    except OSError as exc:
        raise ProgramNotExecutable(f"cannot run {program}: {exc.strerror or exc}") from None


def serve(ctx: Context, profile: str | None, program: int, quiet: bool, timeout: float) -> int:
    """`authcli proxy --exit-with PID`: serve until process PID, its parent, has gone."""
    from .mainthread import MainLoop
    from .proxy import running

    loop = MainLoop(stop_signals=False)
    try:
        with running(ctx, profile, loop, quiet=quiet, timeout=timeout) as proxy:
            _tell(f"{proxy.public_url}\n{proxy.secret.decode()}\n")
            _go_deaf()
            threading.Thread(target=_watch, args=(program, loop), name="authcli-watch", daemon=True).start()
            loop.run()
        # The program has gone and nothing listens any more: a caller reading the job's stderr
        # to its end is done now, not when this process has finished exiting.
        _to_devnull(sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C while it was starting (a passphrase prompt): authcli says so
        return int(ExitCode.INTERRUPTED)
    finally:
        loop.close()
    return 0


def _tell(text: str) -> None:
    """A line to authcli on the pipe that is the proxy's stdout; then stdout is /dev/null
    (authcli's end of the pipe closes at the exec)."""
    sys.stdout.write(text)
    _to_devnull(sys.stdout)


def _to_devnull(stream: TextIO) -> None:
    stream.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, stream.fileno())
    os.close(null)


def _go_deaf() -> None:
    for signum in signal.valid_signals() - _OWN:
        try:
            signal.signal(signum, signal.SIG_IGN)
        except (OSError, ValueError):  # one the platform does not let a program catch
            pass


def _watch(program: int, loop: MainLoop) -> None:
    while os.getppid() == program:
        time.sleep(WATCH_INTERVAL)
    loop.stop()


def _run_and_wait(command: list[str], env: Mapping[str, str], beside: Beside | None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the console gives Ctrl-C to the program too
    try:
        return subprocess.call(command, env=dict(env))
    finally:
        if beside is not None:
            beside.process.terminate()
