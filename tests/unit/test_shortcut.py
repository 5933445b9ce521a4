"""shortcut.py answers only when the full path would hand out the same token (a property)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcli.errors import UseFullPath
from authcli.fastspec import DEFAULTS
from authcli.rules import refresh_margin
from authcli.shortcut import SUMMARY, _usable, config_text, token
from authcli.tokens import TokenRecord

ORIGIN = "https://api.example.com:443"
NOW = 1_800_000_000.0


@given(
    expires_in=st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6)),
    lifetime=st.floats(min_value=0, max_value=1e6),
    token_type=st.sampled_from(["Bearer", "bearer", "DPoP"]),
    origin=st.sampled_from([ORIGIN, "https://elsewhere.example:443"]),
)
def test_hot_answers_only_what_the_engine_would(expires_in: float | None, lifetime: float, token_type: str,
                                                origin: str) -> None:
    expires = None if expires_in is None else NOW + expires_in
    obtained = NOW if expires is None else expires - lifetime
    record = TokenRecord("at", "rt", expires, obtained, origin, token_type=token_type)
    data = {"version": 1, **{k: getattr(record, k) for k in ("access_token", "refresh_token", "expires_at",
                                                              "obtained_at", "api_origin", "token_type")}}
    engine = origin == ORIGIN and token_type != "DPoP" and record.valid_for(NOW, refresh_margin(record.lifetime))
    assert (_usable(data, ORIGIN, NOW) == "at") == engine


def test_a_tampered_summary_is_stepped_around(tmp_path: Path) -> None:
    """shortcut.token never trips over its own summary: anything odd in it means the full path."""
    base = str(tmp_path)
    os.makedirs(os.path.join(base, "state", "tokens"), mode=0o700)
    os.chmod(base, 0o700)
    config = os.path.join(base, "config.toml")
    with open(config, "w") as handle:
        handle.write("[profiles.default]\\n")
    for odd in ({"current": ["x"]}, {"current": "../../etc"}, {"profiles": ["x"]}, {"profiles": {"default": 1}}):
        summary = {"dirs": [base, os.path.join(base, "state")], "config": config_text(config),
                   "current": None, "profiles": {}, **odd}
        with open(os.path.join(base, "state", SUMMARY), "w") as handle:
            handle.write(json.dumps(summary))
        with pytest.raises(UseFullPath):
            token(dict(DEFAULTS["token"]), {"AUTHCLI_CONFIG_DIR": base})


# shortcut.dirs guesses what config.Paths gets from platformdirs; on each platform it must guess the
# same (or nothing: then the full path answers). Simulated: sys.platform patched on a POSIX host.
POSIX_HOST = pytest.mark.skipif(sys.platform == "win32", reason="simulates each platform on a POSIX host")


@POSIX_HOST
@pytest.mark.parametrize("platform", ["linux", "darwin"])
@pytest.mark.parametrize("xdg", [{}, {"XDG_CONFIG_HOME": "/x/config"}, {"XDG_STATE_HOME": "/x/state"},
                                 {"XDG_CONFIG_HOME": "/x/config", "XDG_STATE_HOME": "/x/config"}],
                         ids=["defaults", "config", "state", "both in one"])
def test_the_directories_are_platformdirs_own(monkeypatch: pytest.MonkeyPatch, platform: str,
                                              xdg: dict[str, str]) -> None:
    from platformdirs.macos import MacOS
    from platformdirs.unix import Unix

    from authcli.config import Paths
    from authcli.shortcut import dirs

    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "AUTHCLI_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in xdg.items():
        monkeypatch.setenv(name, value)
    found = (MacOS if platform == "darwin" else Unix)("authcli", appauthor=False)
    paths = Paths(config_dir=Path(found.user_config_dir), state_dir=Path(found.user_state_dir))
    monkeypatch.setattr(sys, "platform", platform)
    assert dirs(os.environ) == (str(paths.config_dir), str(paths.state_dir), str(paths.top(paths.tokens_dir)))


@POSIX_HOST
def test_windows_leaves_the_directories_to_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from authcli.shortcut import dirs

    monkeypatch.setattr(sys, "platform", "win32")
    assert dirs({"LOCALAPPDATA": "C:\\Users\\me\\AppData\\Local"}) is None
    assert dirs({"AUTHCLI_CONFIG_DIR": "/x"}) == ("/x", "/x/state", "/x")
