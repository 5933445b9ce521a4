"""Rules the full path and hot.py both apply, in a module that imports nothing heavy, so the
hottest `authcli token` cannot drift from the engine: when to refresh, and what a profile
name may be (it becomes a file name)."""

from __future__ import annotations

import re

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def refresh_margin(lifetime: float | None) -> float:
    """How long before expiry to refresh: 10% of the lifetime within [30 s, 300 s], at most half of it."""
    if lifetime is None or lifetime <= 0:
        return 0.0
    return min(max(0.1 * lifetime, 30.0), 300.0, lifetime / 2)
