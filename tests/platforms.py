"""What a test needs of the platform it runs on (issue 21).

The suite runs here on Linux; .github/workflows/ci.yml runs the portable part on macOS and
Windows too. A test that asserts POSIX-only behaviour (file modes, owners, symbolic links,
POSIX signals sent to authcli, FIFOs, Unix sockets) says so with ``posix_only(why)``, and
Windows skips it with that reason; everything else must hold on all three.
"""

from __future__ import annotations

import sys

import pytest

# Whether files have POSIX permission bits (authcli's oscalls.POSIX_PERMISSIONS).
POSIX_MODES = sys.platform != "win32"


def posix_only(why: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(sys.platform == "win32", reason=f"POSIX only: {why}")
