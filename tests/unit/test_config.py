from __future__ import annotations

from pathlib import Path

import pytest

from authcli.config import Config, Paths, Profile, effective
from authcli.errors import NotLoggedIn, UsageError
from tests.platforms import POSIX_MODES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


CONFIG = """
current_profile = "work"
[profiles.work]
api_url = "https://work.example.com"
storage = "file"
lock_timeout = 10
future_setting = "kept"
[profiles.home]
api_url = "https://home.example.com"
"""


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (None, {}, "work"),                               # config's current profile
        ("home", {"AUTHCLI_PROFILE": "work"}, "home"),    # flag beats environment
        (None, {"AUTHCLI_PROFILE": "home"}, "home"),      # environment beats config
    ],
)
def test_profile_precedence(tmp_path: Path, flag: str | None, env: dict[str, str], expected: str) -> None:
    config = Config.load(write(tmp_path, CONFIG))
    assert config.resolve(flag, env).name == expected


@pytest.mark.parametrize(
    ("env", "storage", "lock_timeout", "timeout"),
    [
        ({}, "file", 10.0, 30.0),
        ({"AUTHCLI_STORAGE": "keyring", "AUTHCLI_LOCK_TIMEOUT": "3", "AUTHCLI_TIMEOUT": "7"}, "keyring", 3.0, 7.0),
    ],
)
def test_setting_precedence(tmp_path: Path, env: dict[str, str], storage: str, lock_timeout: float,
                            timeout: float) -> None:
    profile = effective(Config.load(write(tmp_path, CONFIG)).profiles["work"], env)
    assert (profile.storage, profile.lock_timeout, profile.timeout) == (storage, lock_timeout, timeout)


def test_storage_flag_beats_environment(tmp_path: Path) -> None:
    profile = effective(Profile("p"), {"AUTHCLI_STORAGE": "keyring"}, storage_flag="file")
    assert profile.storage == "file"


def test_missing_default_profile_means_not_logged_in(tmp_path: Path) -> None:
    with pytest.raises(NotLoggedIn):
        Config.load(tmp_path / "absent.toml").resolve(None, {})


def test_unknown_profile_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown profile 'x' \(known: home, work\)"):
        Config.load(write(tmp_path, CONFIG)).resolve("x", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[profiles.a\n", "not valid TOML"),
        ("profiles = 3", r"\[profiles\] must be a table"),
        ("[profiles.a]\nstorage = 'floppy'", "storage must be"),
        ("[profiles.a]\nlock_timeout = -1", "number of seconds above 0"),
        ("[profiles.a]\ntimeout = nan", "number of seconds above 0"),
        ("[profiles.a]\ntimeout = 'x'", "number of seconds above 0"),
        ("[profiles.a]\napi_url = 5", "must be a string"),
        ("current_profile = 1", "current_profile must be a string"),
        (b"\xff\xfe".decode("latin-1"), "not valid TOML"),
    ],
)
def test_corrupt_config(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Config.load(write(tmp_path, text))


def test_save_roundtrip_keeps_unknown_keys(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    config = Config.load(path)
    config.save()
    again = Config.load(path)
    assert again.profiles == config.profiles and again.current == "work"
    assert 'future_setting = "kept"' in path.read_text()
    assert not POSIX_MODES or path.stat().st_mode & 0o777 == 0o600


def test_paths(tmp_path: Path) -> None:
    paths = Paths.from_env({"AUTHCLI_CONFIG_DIR": str(tmp_path)})
    assert paths.config_file == tmp_path / "config.toml"
    assert paths.tokens_dir == tmp_path / "state" / "tokens"
    assert paths.locks_dir == tmp_path / "state" / "locks"
