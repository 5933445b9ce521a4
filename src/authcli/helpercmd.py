"""Running a user's helper command: the storage key command (storagekey.py) and a token
source's command (flows/sources.py).

One way for both: argv split with shlex (no shell), no stdin, stdout captured, stderr left to
the user (a helper may say why it failed), its own session so that a slow command is killed
with its whole process group. Messages name only the program, never its arguments (they may
be sensitive); each caller words what the command was for and raises its own error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping


def program_name(command: str) -> str:
    """The program ``command`` runs, as messages show it."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return "?"
    return os.path.basename(words[0]) if words else "?"


def words(command: str, kind: str, error: Callable[[str], Exception]) -> list[str]:
    """``command`` split into argv as ``run`` splits it (shlex, no shell); ``error(message)``
    when it does not split or is empty. ``login`` checks a command with it before keeping it."""
    import shlex

    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise error(f"{kind} cannot be split into words ({exc})") from None
    if not argv:
        raise error(f"{kind} is empty")
    return argv


def run(command: str, env: Mapping[str, str], *, timeout: float, kind: str, gives: str,
        timeout_env: str, error: Callable[[str], Exception]) -> bytes:
    """``command``'s standard output. Anything else is ``error(message)``: a command line that
    does not split or is empty, a program that does not start, one that overruns ``timeout``
    seconds (killed; the message names ``timeout_env``), one that exits non-zero. ``kind``
    says what the command is for ("the key command"), ``gives`` what it prints ("key")."""
    import subprocess

    from .oscalls import kill_group

    argv = words(command, kind, error)
    what = f"{kind} '{program_name(command)}'"
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=dict(env),
                                start_new_session=True)
    except OSError as exc:
        raise error(f"cannot run {what}: {exc.strerror or exc}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.kill()
        proc.wait()
        raise error(f"{what} gave no {gives} within {timeout:g} s (killed); check it by hand, "
                    f"or set {timeout_env}") from None
    if proc.returncode != 0:
        raise error(f"{what} failed (exit status {proc.returncode})")
    return out
