"""Whose the terminal is while `authcli exec` runs a program (see mainloop.py for the signals).

The program runs in a process group of its own. A terminal sends what is typed at it and
its window-size changes to its foreground group only, and lets only that group read it or
change its modes; so when authcli's group holds the foreground, authcli hands it to the
program's group, as tini does, and takes it back when the program has ended (a script that
runs authcli reads the terminal afterwards). It never takes the terminal from a shell that
put authcli in the background.

In a pipeline (stdin or stdout a pipe) the terminal stays with the pipeline's group, which
the other programs in it (a pager) share with authcli: what is typed reaches authcli, which
passes it on, and the program gets the terminal only if it stops to wait for it.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress


class Terminal:
    """authcli's controlling terminal; ``for_program``: whether the program should hold it."""

    def __init__(self, fd: int, for_program: bool) -> None:
        self.fd = fd
        self.for_program = for_program

    @classmethod
    def open(cls) -> Terminal | None:
        """None without a controlling terminal (a service, CI, ssh without -t): no job control."""
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return None
        return cls(fd, not (_is_pipe(0) or _is_pipe(1)))

    def close(self) -> None:
        os.close(self.fd)

    def give(self, pgrp: int) -> bool:
        """Hand the foreground to ``pgrp`` if authcli's group holds it; whether it did."""
        if not self._held_by(os.getpgrp()):
            return False
        try:
            os.tcsetpgrp(self.fd, pgrp)
        except OSError:
            return False
        return True

    def take_back(self, pgrp: int) -> None:
        """The foreground back to authcli's group, if ``pgrp`` still holds it."""
        if self._held_by(pgrp):
            with suppress(OSError):
                os.tcsetpgrp(self.fd, os.getpgrp())  # from the background: authcli ignores SIGTTOU

    def _held_by(self, pgrp: int) -> bool:
        try:
            return os.tcgetpgrp(self.fd) == pgrp
        except OSError:
            return False


def _is_pipe(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False
