"""`authcli token` on its hottest path, without loading the rest of authcli.

A plain `authcli token` whose token is still good spent most of its time importing
(dataclasses, pathlib, tomllib, typing, the config and context modules: ~28 ms of ~65 ms on
the project's machine). This module answers that case with os and json, plus what its store
needs to be read (shortcutenc.py, stores/secretservice_wire.py).

It reads a summary of config.toml (no secret: each profile's API origin, storage and DPoP
flag, the current profile, and the parsed document) that the full path writes in the state
directory whenever it parsed a config.toml the summary did not know (Context.config calls
``remember``), together with the very text of config.toml it was made from; it is used only
while config.toml still holds exactly that text. (Not its stat: a rename-based rewrite on a
file system with 1-second timestamps can give config.toml its old inode, size and mtime back
with another current profile.) The full path reads the parsed document back from it too
(``document``), and so imports no tomllib while it is current.

``token`` answers only when everything is plain, and otherwise raises UseFullPath and the
full path runs, which words every error and refreshes:
- the command line is `token`, optionally with `-p/--profile NAME` (as main.command_options
  parses it: no second parser here);
- AUTHCLI_STORAGE and test switches are not set;
- the summary was made from config.toml's current bytes, and names the profile, with file,
  encrypted or keyring storage and no DPoP; keyring storage only where the full path would
  read the Secret Service through jeepney (Linux, stores/secretservice_wire.py, which this
  reads through too);
- every directory from authcli's own down to the tokens is a directory of this user's that
  nobody else can write (what fsutil.check_private_dir demands), the record is a regular
  file opened without following a symlink, is a version-1 record for the profile's API
  origin, and its access token is good for longer than the refresh margin.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time

from .errors import UseFullPath
from .oscalls import open_file
from .rules import PROFILE_NAME, dir_problem, directories, fresh, record_problem

SUMMARY = "hot-profiles.json"
MAX_RECORD = 1024 * 1024
MAX_CONFIG = 32 * 1024  # a larger config.toml gets no summary: the full path answers
MAX_SUMMARY = 4 * MAX_CONFIG + 64 * 1024  # its text and its document, each escaped at most 2x
STORES = ("file", "encrypted", "keyring")  # a fleet's (redis) needs redis-py's lease rules: the full path
NOT_HOT = ("AUTHCLI_STORAGE", "AUTHCLI_TEST_DISABLE_LOCK", "AUTHCLI_TEST_PAUSE_AT", "AUTHCLI_TEST_DISABLE_REDIS_LEASE")


def dirs(env: os._Environ[str] | dict[str, str]) -> tuple[str, str, str] | None:
    """(config dir, state dir, the outermost of them above the tokens: config.Paths.top), from
    rules.directories as config.Paths has them, or None where only platformdirs knows."""
    found = directories(env)
    if found is None:
        return None
    config, state = found
    tokens = os.path.join(state, "tokens")
    top = config if os.path.commonpath([tokens, config]) == config else state
    return config, state, top


def config_text(path: str) -> str | None:
    """config.toml's text, which keys the summary (None: no summary applies)."""
    raw = _read(path, MAX_CONFIG)
    try:
        return None if raw is None else raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _private(directory: str) -> bool:
    try:
        return dir_problem(os.stat(directory)) is None
    except OSError:
        return False


def token(params: dict[str, object], env: os._Environ[str] | dict[str, str]) -> str:
    """The token to print, or UseFullPath. ``params``: the command line as
    main.command_options parsed it (from the generated fastspec)."""
    flag = params.get("profile")
    if params.get("min_ttl") or params.get("format_") != "token" or any(env.get(name) for name in NOT_HOT):
        raise UseFullPath
    where = dirs(env)
    if where is None:
        raise UseFullPath
    config_dir, state_dir, top = where
    summary = _read_json(os.path.join(state_dir, SUMMARY), MAX_SUMMARY)
    if not isinstance(summary, dict) or summary.get("dirs") != [config_dir, state_dir]:
        raise UseFullPath
    if not _private(config_dir) or summary.get("config") != config_text(os.path.join(config_dir, "config.toml")):
        raise UseFullPath
    name = flag or env.get("AUTHCLI_PROFILE") or summary.get("current") or "default"
    profiles = summary.get("profiles")
    if not isinstance(name, str) or not PROFILE_NAME.match(name) or not isinstance(profiles, dict):
        raise UseFullPath
    profile = profiles.get(name)
    if not isinstance(profile, dict) or profile.get("storage") not in STORES or profile.get("dpop"):
        raise UseFullPath
    storage = profile["storage"]
    tokens = os.path.join(state_dir, "tokens")
    chain = [tokens if storage != "keyring" else state_dir]  # the keyring's sessions are not in files
    while chain[-1] != top and len(chain) < 8:
        chain.append(os.path.dirname(chain[-1]))
    if chain[-1] != top or not all(_private(d) for d in chain):
        raise UseFullPath
    if storage == "keyring":
        scope = config_dir if env.get("AUTHCLI_CONFIG_DIR") else None  # config.Paths.scope
        record = _from_secret_service(env, state_dir, scope, name)
    elif storage == "encrypted":
        from .shortcutenc import record as decrypted

        record = decrypted(profile, _read(os.path.join(tokens, f"{name}.enc"), 2 * MAX_RECORD), name, env)
    else:
        record = _read_json(os.path.join(tokens, f"{name}.json"), MAX_RECORD)
    access = _usable(record, profile.get("api_origin"), time.time())
    if access is None:
        raise UseFullPath
    return access


def _from_secret_service(env: os._Environ[str] | dict[str, str], state_dir: str, scope: str | None,
                         name: str) -> object:
    """The profile's record from the Secret Service, read as the Secret Service store reads
    it (stores/secretservice_wire.py), where that store is the one the full path would use."""
    if sys.platform != "linux":
        raise UseFullPath  # the Keychain and the Credential Locker: keyring's
    from .rules import keyring_service
    from .stores.secretservice_wire import Ambiguous, own, read, usable

    if not usable(env, os.path.join(state_dir, "keyring-backend")):
        raise UseFullPath
    try:
        text = read(own(keyring_service(env, scope), name))
    except Ambiguous:
        raise UseFullPath from None  # the full path refuses to choose, in its own words
    if text is None or len(text) > MAX_RECORD:
        raise UseFullPath
    try:
        return json.loads(text)
    except ValueError:
        raise UseFullPath from None


def _read(path: str, cap: int) -> bytes | None:
    """A regular file's bytes, opened without following a symlink; None if larger than ``cap``."""
    try:
        fd = open_file(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = b""
        while len(data) <= cap:
            piece = os.read(fd, cap + 1 - len(data))
            if not piece:
                break
            data += piece
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if len(data) > cap else data


def _read_json(path: str, cap: int) -> object:
    data = _read(path, cap)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _usable(record: object, api_origin: object, now: float) -> str | None:
    """The access token when the record is one the full path would read (rules.record_problem),
    for ``api_origin``, a plain bearer token, and fresh (rules.fresh, as the engine has it)."""
    if record_problem(record) is not None or not isinstance(record, dict):
        return None
    if record["api_origin"] != api_origin or record.get("dpop_key") is not None:
        return None
    if (record.get("token_type") or "Bearer").lower() != "bearer":
        return None
    access: str = record["access_token"]
    return access if fresh(record["expires_at"], record["obtained_at"], now) else None


def document(config_dir: str, state_dir: str, text: str) -> dict[str, object] | None:
    """What config.toml's ``text`` parses to, from the summary, when the summary was made from
    exactly this text for these directories and the state directory is private; else None
    (then the full path parses with tomllib). The full path's Config.load asks."""
    if not _private(state_dir):
        return None
    summary = _read_json(os.path.join(state_dir, SUMMARY), MAX_SUMMARY)
    if not isinstance(summary, dict) or summary.get("dirs") != [config_dir, state_dir] \
            or summary.get("config") != text:
        return None
    parsed = summary.get("document")
    return parsed if isinstance(parsed, dict) else None


def remember(config_dir: str, state_dir: str, config_file: str) -> None:
    """Write the summary (the full path, after a config.toml the summary did not know), unless
    it is current. It keeps config.toml's very text, so it can never stand for another
    config.toml; it holds no secret: the parsed document (for Config.load), and for ``token``
    each profile's API origin, storage, DPoP flag and key source, and the current profile."""
    path = os.path.join(state_dir, SUMMARY)
    text = config_text(config_file)
    existing = _read_json(path, MAX_SUMMARY)
    if text is None or (isinstance(existing, dict) and existing.get("config") == text
                        and existing.get("dirs") == [config_dir, state_dir] and "document" in existing):
        return
    from pathlib import Path

    from .config import Config, toml_document
    from .errors import AuthcliError
    from .fsutil import atomic_write
    from .urls import origin_str

    try:
        raw = text.encode("utf-8")
        parsed = toml_document(raw, Path(config_file))
        config = Config.parse(raw, Path(config_file), parsed)
        profiles = {name: {"api_origin": origin_str(profile.api_url), "storage": profile.storage,
                           "dpop": profile.dpop, "storage_key": profile.storage_key}
                    for name, profile in config.profiles.items() if PROFILE_NAME.match(name) and profile.api_url}
        data = {"dirs": [config_dir, state_dir], "config": text, "current": config.current, "profiles": profiles,
                "document": parsed}
        try:
            summary = json.dumps(data, ensure_ascii=False)
        except (TypeError, ValueError):  # TOML dates have no JSON form: the shortcut's part only
            summary = json.dumps({**data, "document": None}, ensure_ascii=False)
        atomic_write(Path(path), summary.encode("utf-8"))
    except (OSError, AuthcliError):
        pass  # only a shortcut: the command goes on
