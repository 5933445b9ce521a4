"""Rules the full path and shortcut.py both apply, in a module that imports nothing heavy, so the
hottest `authcli token` cannot drift from the engine: what a stored token record must hold,
when its token is fresh enough to use without a refresh, what a profile name may be (it
becomes a file name), where authcli's directories are, what makes a directory fit to hold
sessions, and which keyring service holds a config dir's sessions."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping

from .oscalls import is_mine, writable_by_others

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEYRING_SERVICE = "authcli"
RECORD_VERSION = 1
_REQUIRED = ("access_token", "refresh_token", "expires_at", "obtained_at", "api_origin")
_OPTIONAL_TEXT = ("refresh_token", "client_secret", "id_token", "scope", "dpop_key", "token_type")


def record_problem(data: object) -> str | None:
    """What makes ``data`` (a parsed token record) no authcli record, or None when it is one:
    tokens.TokenRecord.from_json raises it, the shortcut steps aside on it."""
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
        return "not an authcli record of a known version"
    for name in _REQUIRED:
        if name not in data:
            return f"missing {name}"
    if not isinstance(data["access_token"], str) or not data["access_token"]:
        return "bad access_token"
    if not isinstance(data["api_origin"], str):
        return "bad api_origin"
    for name in _OPTIONAL_TEXT:
        if data.get(name) is not None and not isinstance(data[name], str):
            return f"bad {name}"
    for name in ("expires_at", "obtained_at"):
        value = data[name]
        if value is None and name == "expires_at":
            continue  # unknown: used until the API answers 401
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            return f"bad {name}"
    return None


def _finite(value: float) -> bool:
    """math.isfinite without importing math (the shortcut's every import counts)."""
    return value == value and value not in (float("inf"), float("-inf"))


def fresh(expires_at: float | None, obtained_at: float, now: float, min_ttl: float = 0.0) -> bool:
    """True when an access token is good for longer than its refresh margin (and ``min_ttl``)
    from ``now``: the engine uses it without refreshing, and so does the shortcut. An unknown
    expiry counts as fresh: such a token is used until the API answers 401."""
    if expires_at is None:
        return True
    return expires_at - now > max(refresh_margin(max(0.0, expires_at - obtained_at)), min_ttl)


def refresh_margin(lifetime: float | None) -> float:
    """How long before expiry to refresh: 10% of the lifetime within [30 s, 300 s], at most half of it."""
    if lifetime is None or lifetime <= 0:
        return 0.0
    return min(max(0.1 * lifetime, 30.0), 300.0, lifetime / 2)


def dir_problem(info: os.stat_result) -> str | None:
    """Why a directory may not hold sessions ("not a directory", "another owner", "writable by
    others"), or None when it may: as ssh refuses a ~/.ssh others could write."""
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if not is_mine(info):
        return "another owner"
    if writable_by_others(info):
        return "writable by others"
    return None


def keyring_service(env: Mapping[str, str], scope: str | None) -> str:
    """The keyring service name: 'authcli' (or AUTHCLI_KEYRING_SERVICE), followed by the
    directory when AUTHCLI_CONFIG_DIR chose one (``scope``: config.Paths.scope), so each config
    dir's entries are its own and are guarded by its own lock files."""
    service = env.get("AUTHCLI_KEYRING_SERVICE") or KEYRING_SERVICE
    return f"{service}@{scope}" if scope else service


def directories(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(config dir, state dir): AUTHCLI_CONFIG_DIR's (state in its state/), else platformdirs'
    answer on Linux and macOS, computed without importing it (tests/unit/test_shortcut.py pins the
    two together); None on Windows, where only platformdirs knows (a known-folder call)."""
    root = env.get("AUTHCLI_CONFIG_DIR")
    if root:
        base = os.path.realpath(os.path.expanduser(root))
        return base, os.path.join(base, "state")
    config = env.get("XDG_CONFIG_HOME", "")
    state = env.get("XDG_STATE_HOME", "")
    if sys.platform == "darwin":  # platformdirs: XDG variables (absolute paths) first there too
        support = os.path.expanduser("~/Library/Application Support")
        return (os.path.join(config if os.path.isabs(config) else support, "authcli"),
                os.path.join(state if os.path.isabs(state) else support, "authcli"))
    if sys.platform == "linux":
        return (os.path.join(config if config.strip() else os.path.expanduser("~/.config"), "authcli"),
                os.path.join(state if state.strip() else os.path.expanduser("~/.local/state"), "authcli"))
    return None
