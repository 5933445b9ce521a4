"""Test-only switches (AUTHCLI_TEST_*), inert outside the test harness.

The concurrency tests show what happens without a protection (the lock, the fleet's lease) or
hold a process still at a point of its refresh. A user who copied such a variable into a
shell profile must not lose that protection, so a switch counts only where the harness has
also put a file named TEST-HARNESS into the directory AUTHCLI_CONFIG_DIR names: a throwaway
config dir that only a test or a benchmark makes. When a switch is active authcli says so,
once per process, on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

HARNESS_FILE = "TEST-HARNESS"
_warned: set[str] = set()


def harness_enabled(env: Mapping[str, str]) -> bool:
    root = env.get("AUTHCLI_CONFIG_DIR")
    return bool(root) and os.path.isfile(os.path.join(os.path.expanduser(root or ""), HARNESS_FILE))


def switch(env: Mapping[str, str], name: str) -> str | None:
    """The switch's value when it is set and the harness is enabled, else None."""
    value = env.get(name)
    if not value or not harness_enabled(env):
        return None
    if name not in _warned:
        _warned.add(name)
        sys.stderr.write(f"authcli: warning: test switch {name} is active ({HARNESS_FILE} in AUTHCLI_CONFIG_DIR); "
                         "never use it for real sessions\n")
    return value
