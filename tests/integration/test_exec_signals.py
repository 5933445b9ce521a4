"""Every signal reaches `authcli exec`'s program exactly once, whichever way it was sent.

authcli has become the program (sideproxy.py), with its proxy beside it as its child. The
program counts what it receives in a file, and each signal is sent only once the one before
it has been counted. After the signals under test, a real-time signal ends it; the kernel
delivers standard signals before real-time ones, so a second copy of any earlier signal
(from a supervisor passing it on, as authcli used to) would have been counted by then.
(Linux: macOS has no real-time signals.) Afterwards the proxy must still serve: the job's
signals are not its own.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, Cli
from tests.helpers import END, EXIT, ISSUE_18, PROGRAM, Counts

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGRTMIN"), reason="the end marker is a real-time signal")


def wait_for(ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextmanager
def exec_without_terminal(cli: Cli, counts: Counts) -> Iterator[subprocess.Popen[str]]:
    """authcli as a service or CI step runs: no controlling terminal, its own process group."""
    proc = subprocess.Popen([AUTHCLI, "exec", "--", sys.executable, "-c", PROGRAM, str(counts.path), "count"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli.env, start_new_session=True)
    try:
        counts.wait("pid")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def to_authcli(authcli: int, program: int, signum: int) -> None:
    os.kill(authcli, signum)  # `kill PID`, a supervisor, `docker stop`


def to_the_group(authcli: int, program: int, signum: int) -> None:
    os.killpg(os.getpgid(authcli), signum)  # `kill -SIG -PGID`, `timeout`, a CI runner


def to_each_process(authcli: int, program: int, signum: int) -> None:
    for pid in job(authcli):  # systemd's KillMode=control-group, `pkill`, `kill -1`
        os.kill(pid, signum)


def job(pid: int) -> list[int]:
    """``pid`` and its descendants, as a cgroup or a unit holds them."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):  # gone meanwhile
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found = [pid]
    for member in found:
        found += [child for child, parent in parents.items() if parent == member]
    return found


def proxy_serves(program: int) -> int:
    """The status of a request the program could send through its proxy now."""
    env = dict(entry.split("=", 1) for entry in Path(f"/proc/{program}/environ").read_text().split("\0") if entry)
    request = urllib.request.Request(env["AUTHCLI_API_URL"] + "/users/me",
                                     headers={"Authorization": "Bearer " + env["AUTHCLI_API_TOKEN"]})
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


@pytest.mark.parametrize("send", [to_authcli, to_the_group, to_each_process])
def test_each_signal_reaches_the_program_once(logged_in: Cli, tmp_path: Path,
                                              send: Callable[[int, int, int], None]) -> None:
    """to_each_process reached the program twice while authcli supervised it and passed
    signals on (a supervisor cannot tell `kill PID` from a kill of every process)."""
    counts = Counts(tmp_path / "counts.json")
    with exec_without_terminal(logged_in, counts) as proc:
        program = counts.read()["pid"]
        assert program == proc.pid  # authcli has become the program
        assert len(job(proc.pid)) == 2  # and its proxy is its child
        for name in ISSUE_18:
            send(proc.pid, program, getattr(signal, "SIG" + name))
            counts.wait(name)
        assert proxy_serves(program) == 200
        os.kill(proc.pid, END)
        _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (EXIT, "")
    assert counts.received() == dict.fromkeys(ISSUE_18, 1)


def test_the_proxy_ends_with_the_program_before_its_caller_reaps_it(logged_in: Cli, tmp_path: Path) -> None:
    """subprocess.run reads the job's stderr to the end before it reaps the program: a proxy
    that waited for the program's pid to vanish would hold that stderr for ever."""
    result = logged_in.run("exec", "--", "sh", "-c", "exit 3", timeout=60)
    assert (result.code, result.err) == (3, "")


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGTERM])
def test_a_signal_that_ends_the_program_is_the_jobs_status(logged_in: Cli, signum: int) -> None:
    """USR1 used to be swallowed, USR2 and ALRM to kill authcli and orphan the program; now
    the caller sees the program's own death by the signal."""
    proc = logged_in.popen("exec", "--", sys.executable, "-c",
                           "import time; print('ready', flush=True); time.sleep(60)")
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (-signum, "")


class Pty:
    """authcli in a session of its own whose controlling terminal is a pty, as in a terminal window."""

    def __init__(self, cli: Cli, counts: Counts, mode: str) -> None:
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            os.execve(AUTHCLI, [AUTHCLI, "exec", "--", sys.executable, "-c", PROGRAM, str(counts.path), mode],
                      cli.env)
        os.set_blocking(self.master, False)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self, options: int = 0) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the pty's output is read, or a full buffer would block the writer
            try:
                os.read(self.master, 4096)
            except OSError:  # nothing to read yet, or (EIO) the terminal's last process has gone
                pass
            pid, status = os.waitpid(self.pid, options | os.WNOHANG)
            if pid:
                return status
            time.sleep(0.01)
        raise AssertionError("timed out waiting for authcli to stop or exit")

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.master)


@pytest.fixture
def terminal(logged_in: Cli, tmp_path: Path) -> Iterator[Callable[[str], tuple[Pty, Counts]]]:
    opened: list[Pty] = []

    def start(mode: str) -> tuple[Pty, Counts]:
        counts = Counts(tmp_path / "counts.json")
        opened.append(Pty(logged_in, counts, mode))
        counts.wait("pid")
        return opened[-1], counts

    yield start
    for term in opened:
        term.close()


def test_what_is_typed_at_the_terminal_reaches_the_program_once(terminal: Callable[[str], tuple[Pty, Counts]]
                                                                 ) -> None:
    """The program holds the terminal: it reads it without being stopped (no SIGTTIN, no
    SIGCONT to resume it), and Ctrl-C, Ctrl-\\, Ctrl-Z and a resize reach it once."""
    term, counts = terminal("read")
    term.type(b"typed line\n")
    wait_for(lambda: "line" in counts.read(), "the program to read the terminal")
    for keys, name in ((b"\x03", "INT"), (b"\x1c", "QUIT"), (b"\x1a", "TSTP")):
        term.type(keys)
        counts.wait(name)
    term.resize(40, 100)
    counts.wait("WINCH")
    os.kill(term.pid, END)
    assert os.waitstatus_to_exitcode(term.wait()) == EXIT
    assert counts.read()["line"] == "typed line"
    assert counts.received() == {"INT": 1, "QUIT": 1, "TSTP": 1, "WINCH": 1}


def test_ctrl_z_stops_the_job_and_sigcont_resumes_it(terminal: Callable[[str], tuple[Pty, Counts]]) -> None:
    """A shell sees the job stop when its process stops, and its `fg` continues it: authcli's
    process is the program's."""
    term, counts = terminal("stop")
    term.type(b"\x1a")
    status = term.wait(os.WUNTRACED)
    assert os.WIFSTOPPED(status), status
    assert counts.received() == {"TSTP": 1}
    os.kill(term.pid, signal.SIGCONT)
    counts.wait("CONT")
    os.kill(term.pid, END)
    assert os.waitstatus_to_exitcode(term.wait()) == EXIT
    assert counts.received() == {"TSTP": 1, "CONT": 1}
