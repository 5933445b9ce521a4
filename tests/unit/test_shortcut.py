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


# -- the summary's document: config.toml parsed once, read back without tomllib ----------------

CONFIGS = [
    'current_profile = "a"\n[profiles.a]\napi_url = "https://api.example.com"\nstorage = "file"\n',
    '[profiles."sp ace"]\napi_url = "https://x.example"\ntimeout = 2.5\nlock_timeout = 30\n',
    '[profiles.u]\napi_url = "https://ü.example"\nscope = "a \\"quoted\\" \\\\ b\\n"\ndpop = true\n',
    '[profiles.x]\napi_url = "https://x.example"\nextra_list = [1, 2.0, "three", [true]]\n[profiles.x.sub]\nk = -0.0\n',
    '[profiles.f]\napi_url = "https://x.example"\nbig = 12345678901234567890\ninf = inf\n',
]


def private_dirs(tmp_path: Path) -> tuple[Path, Path]:
    config_dir, state_dir = tmp_path / "config", tmp_path / "state"
    config_dir.mkdir(mode=0o700)
    state_dir.mkdir(mode=0o700)
    return config_dir, state_dir


@pytest.mark.parametrize("text", CONFIGS)
def test_the_summary_holds_what_tomllib_parses(tmp_path: Path, text: str) -> None:
    import tomllib

    from authcli.shortcut import document, remember

    config_dir, state_dir = private_dirs(tmp_path)
    (config_dir / "config.toml").write_text(text, encoding="utf-8")
    remember(str(config_dir), str(state_dir), str(config_dir / "config.toml"))
    assert document(str(config_dir), str(state_dir), text) == tomllib.loads(text)


def test_a_config_with_dates_is_parsed_by_tomllib_every_time(tmp_path: Path) -> None:
    """TOML dates have no JSON form: the summary keeps no document, Config.load parses."""
    from authcli.shortcut import document, remember

    config_dir, state_dir = private_dirs(tmp_path)
    text = '[profiles.a]\napi_url = "https://x.example"\nwhen = 2026-12-05\n'
    (config_dir / "config.toml").write_text(text)
    remember(str(config_dir), str(state_dir), str(config_dir / "config.toml"))
    assert document(str(config_dir), str(state_dir), text) is None
    assert json.loads((state_dir / SUMMARY).read_text())["profiles"]["a"]["storage"] == "keyring"


def _other_text(config_dir: Path, state_dir: Path) -> tuple[str, str, str]:
    return str(config_dir), str(state_dir), CONFIGS[0] + "# one more line\n"


def _other_dirs(config_dir: Path, state_dir: Path) -> tuple[str, str, str]:
    return str(config_dir / "elsewhere"), str(state_dir), CONFIGS[0]


def _state_writable_by_others(config_dir: Path, state_dir: Path) -> tuple[str, str, str]:
    state_dir.chmod(0o777)
    return str(config_dir), str(state_dir), CONFIGS[0]


def _tampered_document(config_dir: Path, state_dir: Path) -> tuple[str, str, str]:
    summary = json.loads((state_dir / SUMMARY).read_text())
    summary["document"] = ["not", "a", "table"]
    (state_dir / SUMMARY).write_text(json.dumps(summary))
    return str(config_dir), str(state_dir), CONFIGS[0]


@pytest.mark.parametrize("change", [_other_text, _other_dirs, _state_writable_by_others, _tampered_document])
def test_the_document_is_used_only_for_exactly_its_text_and_dirs(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    from authcli.shortcut import document, remember

    config_dir, state_dir = private_dirs(tmp_path)
    (config_dir / "config.toml").write_text(CONFIGS[0])
    remember(str(config_dir), str(state_dir), str(config_dir / "config.toml"))
    assert document(str(config_dir), str(state_dir), CONFIGS[0]) is not None  # the control: used as made
    assert document(*change(config_dir, state_dir)) is None
