"""`authcli exec` as a container's PID 1: a minimal init in front of the program (pid1.py).

A PID namespace (`unshare --pid`, root) makes authcli PID 1 as `docker run` would. The program
counts the signals it receives (tests/helpers.py's PROGRAM); the test sends each to PID 1 from
outside, as `docker stop` and `docker kill -s` do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, Cli
from tests.helpers import END, EXIT, ISSUE_18, PROGRAM, Counts, needs_root

SENT = [name for name in ISSUE_18 if name != "TSTP"]  # no terminal in a container's PID 1


def pid1(unshare: int) -> int:
    """authcli's pid as seen from here: unshare's one child, PID 1 inside."""
    children = Path(f"/proc/{unshare}/task/{unshare}/children")
    for _ in range(6000):
        found = children.read_text().split()
        if found:
            return int(found[0])
        os.sched_yield()
    raise AssertionError("unshare started nothing")


def test_as_pid_1_each_signal_reaches_the_program_once_and_its_status_is_the_jobs(logged_in: Cli,
                                                                                 tmp_path: Path) -> None:
    needs_root("make authcli PID 1 of a PID namespace")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    counts = Counts(tmp_path / "counts.json")
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", AUTHCLI, "exec", "--", sys.executable, "-c",
                             PROGRAM, str(counts.path), "count"], env=logged_in.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        init = pid1(proc.pid)
        counts.wait("pid")
        assert counts.read()["pid"] != 1  # the program runs in a child of PID 1 (pids as seen inside)
        for name in SENT:
            os.kill(init, getattr(signal, "SIG" + name))  # `docker kill -s NAME`
            counts.wait(name)
        os.kill(init, END)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, err) == (EXIT, "")
    assert counts.received() == dict.fromkeys(SENT, 1)


def test_as_pid_1_a_term_the_program_leaves_at_its_default_stops_it(logged_in: Cli) -> None:
    """`docker stop`: PID 1 would ignore a SIGTERM it has no handler for; the program does not."""
    needs_root("make authcli PID 1 of a PID namespace")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", AUTHCLI, "exec", "--", sys.executable, "-c",
                             "import time; print('ready', flush=True); time.sleep(60)"], env=logged_in.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        os.kill(pid1(proc.pid), signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, err) == (128 + signal.SIGTERM, "")
