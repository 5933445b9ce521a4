"""Where an encrypted profile's key comes from (login --storage encrypted), chosen at login and
remembered by the profile (storage_key = env | file | command | passphrase); never guessed.

- env: AUTHCLI_STORAGE_KEY, 32 random bytes in base64 (a CI secret).
- file: key_file, the same text in a file of this user's that nobody else can read.
- command: key_command, run without a shell once per process; its standard output is the key.
- passphrase: only on a terminal. scrypt derives a key-encryption key that unwraps the data
  key kept (wrapped) in the record's header; the data key is then cached in the kernel's
  session keyring (kernelkeyring.py) for key_cache_timeout seconds.

The key itself is never in config.toml, an error, a log or a repr: sources are named by where
they read from, and Key's repr hides the bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .encformat import cache_name as cache_name  # where the hot path finds it too
from .errors import StorageError, UsageError
from .helpercmd import program_name
from .oscalls import is_mine, make_mine_hint, open_file, open_to_others

ENV = "AUTHCLI_STORAGE_KEY"
SOURCES = ("env", "file", "command", "passphrase")
KEY_BYTES = 32
DEFAULT_CACHE_TIMEOUT = 8 * 3600.0
COMMAND_TIMEOUT = 10.0
SCRYPT = {"n": 2**17, "r": 8, "p": 1}
SCRIPT_CHOICES = f"set {ENV} (32 random bytes, base64) or log in with --key-command CMD"
DENIED_NOTE = "kernel-keyring-denied"  # in the state dir: the "no kernel keyring" note was shown


class KeyUnavailable(StorageError):
    """The key could not be had (unset, unreadable, a failing command, no terminal)."""


@dataclass(frozen=True)
class Key:
    value: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "Key(<hidden>)"


# The secrets authcli reads from its environment: the storage key, the OAuth client secret
# and the Redis password.
SECRET_ENV = (ENV, "AUTHCLI_CLIENT_SECRET", "AUTHCLI_REDIS_PASSWORD")


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without authcli's secrets: what a program authcli starts (exec's program, a
    key or token command) inherits."""
    return {name: value for name, value in env.items() if name not in SECRET_ENV}


def parse_key(text: str | bytes, where: str) -> Key:
    """32 bytes from their base64 text (surrounding whitespace ignored)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise KeyUnavailable(f"{where} is not a storage key (32 bytes in base64; make one with: "
                             "head -c 32 /dev/urandom | base64)")
    return Key(raw)


def new_key_text() -> bytes:
    return base64.b64encode(os.urandom(KEY_BYTES)) + b"\n"


@dataclass(frozen=True)
class KeySpec:
    """A profile's key source, as config.toml keeps it (no secret)."""

    source: str
    key_file: str | None = None
    key_command: str | None = None
    cache_timeout: float = DEFAULT_CACHE_TIMEOUT

    def describe(self) -> str:
        if self.source == "env":
            return ENV
        if self.source == "file":
            return f"the key file {self.key_file}"
        if self.source == "command":
            return f"the key command '{program_name(self.key_command or '')}'"
        return "the passphrase"


def spec_of(profile: Any) -> KeySpec:
    """The profile's KeySpec (profile: config.Profile)."""
    if profile is None or profile.storage_key not in SOURCES:
        name = getattr(profile, "name", "?")
        raise UsageError(f"profile '{name}' has storage 'encrypted' but no key source (storage_key); "
                         f"run authcli login --profile {name} --storage encrypted")
    return KeySpec(profile.storage_key, profile.key_file, profile.key_command, profile.key_cache_timeout)


# -- env, file, command ----------------------------------------------------------------------

def from_env(env: Mapping[str, str]) -> Key:
    text = env.get(ENV)
    if not text:
        raise KeyUnavailable(f"{ENV} is not set; this profile's key comes from it")
    return parse_key(text, ENV)


def from_file(path: str) -> Key:
    """The key in ``path``: a regular file of this user's, readable by nobody else, not a link."""
    try:
        fd = open_file(path, os.O_RDONLY)
    except OSError as exc:
        raise KeyUnavailable(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyUnavailable(f"the key file {path} is not a regular file")
        if not is_mine(info):
            raise KeyUnavailable(f"the key file {path} belongs to another user (uid {info.st_uid}); "
                                 f"make it yours with: {make_mine_hint(path)}")
        if open_to_others(info):
            raise KeyUnavailable(f"the key file {path} can be read or written by other users; "
                                 f"fix it with: chmod 600 {path}")
        text = os.read(fd, 1024)
    finally:
        os.close(fd)
    return parse_key(text, f"the key file {path}")


def write_new_file(path: str) -> Key:
    """--new-key-file: a fresh key in a new file, created 0600 (never over an existing one)."""
    text = new_key_text()
    try:
        fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"--new-key-file {path} exists; use it with --key-file {path}, or choose a new path") from None
    except OSError as exc:
        raise UsageError(f"cannot create --new-key-file {path}: {exc.strerror or exc}") from None
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    return parse_key(text, path)


_commands: dict[str, Key] = {}  # once per process


def from_command(command: str, env: Mapping[str, str]) -> Key:
    """Run ``command`` (argv split, no shell) with no stdin; its stdout is the key. Its stderr
    is the user's (a helper may say why it failed). A slow command is killed with its group."""
    if command in _commands:
        return _commands[command]
    from . import helpercmd
    from .config import number_from_env

    name = program_name(command)
    out = helpercmd.run(command, child_environment(env),
                        timeout=number_from_env(env, "AUTHCLI_KEY_COMMAND_TIMEOUT", COMMAND_TIMEOUT),
                        kind="the key command", gives="key", timeout_env="AUTHCLI_KEY_COMMAND_TIMEOUT",
                        error=KeyUnavailable)
    key = parse_key(out, f"the output of the key command '{name}'")
    _commands[command] = key
    return key


# -- passphrase ------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _kek(passphrase: str, kdf: Mapping[str, Any]) -> bytes:
    salt = base64.b64decode(kdf["salt"])
    n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20,
                          dklen=KEY_BYTES)


def wrap(passphrase: str, key: Key) -> dict[str, Any]:
    """The header that keeps ``key`` wrapped under the passphrase."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kdf = {"salt": _b64(os.urandom(16)), **SCRYPT}
    nonce = os.urandom(12)
    wrapped = AESGCM(_kek(passphrase, kdf)).encrypt(nonce, key.value, b"authcli-data-key")
    return {"kdf": kdf, "wrapped_key": _b64(nonce + wrapped)}


def unwrap(passphrase: str, header: Mapping[str, Any]) -> Key | None:
    """The data key, or None when the passphrase is wrong."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    blob = base64.b64decode(header["wrapped_key"])
    try:
        return Key(AESGCM(_kek(passphrase, header["kdf"])).decrypt(blob[:12], blob[12:], b"authcli-data-key"))
    except InvalidTag:
        return None


def can_prompt() -> bool:
    import sys

    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (ValueError, OSError, AttributeError):
        return False


def ask(label: str) -> str:
    import getpass
    import sys

    try:
        return getpass.getpass(label, stream=sys.stderr)
    except EOFError:
        raise KeyUnavailable("no passphrase was typed") from None
