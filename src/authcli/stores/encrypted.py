"""Sessions encrypted at rest (login --storage encrypted), for hosts with no OS keyring.

One file per profile, state/tokens/<profile>.enc, created 0600 in the private tokens directory
and replaced atomically (fsutil.atomic_write), holding one JSON object:

    {"authcli": "encrypted-record", "version": 1, "source": "env|file|command|passphrase",
     "nonce": b64, "ciphertext": b64,             AES-256-GCM of the record's JSON
     "kdf": {...}, "wrapped_key": b64}            passphrase only (storagekey.wrap)

The associated data binds the profile name, the API origin, the key source and the wrapped
key, so a record moved to another profile or API, or a header edited, fails to decrypt. A
record that does not decrypt is an error (exit 6) naming the key source tried, and is left
untouched for the right key; it is never "not logged in" and never overwritten by a refresh.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import check_profile_name
from ..encformat import FORMAT, VERSION, associated_data
from ..errors import StorageError
from ..fsutil import atomic_write, check_private_chain, probe_write
from ..storagekey import (
    DENIED_NOTE,
    ENV,
    SCRIPT_CHOICES,
    Key,
    KeySpec,
    KeyUnavailable,
    ask,
    cache_name,
    can_prompt,
    from_command,
    from_env,
    from_file,
    unwrap,
)
from ..tokens import TokenRecord
from .base import HEADROOM, MAX_RECORD, parse_record, read_capped
from .file import FileStore

if TYPE_CHECKING:
    from ..config import Paths

PROMPTS = 3


class UndecryptableRecord(StorageError):
    """The record is there but does not decrypt (wrong key, altered, moved): kept as it is."""


def _aesgcm(key: Key) -> Any:
    # cryptography's public module costs ~16 ms to import, mostly its Rust binding and enum/typing,
    # which the rest of authcli imports anyway.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key.value)


class EncryptedStore(FileStore):
    kind = "encrypted"

    def __init__(self, paths: Paths, spec: KeySpec, origin: str, env: Mapping[str, str]) -> None:
        super().__init__(paths)
        self.spec = spec
        self.origin = origin
        self.env = env
        self._key: Key | None = None
        self._header: dict[str, Any] = {}  # passphrase: the kdf and wrapped key records are written with

    def __repr__(self) -> str:
        return f"EncryptedStore({self.directory}, {self.spec.describe()})"

    def _path(self, profile: str) -> Path:
        return self.directory / f"{check_profile_name(profile)}.enc"

    def use_key(self, key: Key, header: Mapping[str, Any] | None = None) -> None:
        """Login's new key (and, for a passphrase, its wrapped form) for the records it writes."""
        self._key, self._header = key, dict(header or {})

    # -- reading -----------------------------------------------------------------------------

    def load(self, profile: str) -> TokenRecord | None:
        path = self._path(profile)
        if not check_private_chain(self.directory, self.paths.top(self.directory)):
            return None
        data = self._read(path)
        if data is None:
            return None
        envelope = self._envelope(data, profile, path)
        key = self._key_for(envelope, profile)
        try:
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise self._undecryptable(profile, path, "it was altered or truncated") from None
        from cryptography.exceptions import InvalidTag

        ad = associated_data(profile, self.origin, str(envelope.get("source")), envelope.get("wrapped_key"))
        try:
            plain = _aesgcm(key).decrypt(nonce, ciphertext, ad)
        except (InvalidTag, ValueError):
            raise self._undecryptable(profile, path, "a wrong key, or the file was altered, truncated or copied "
                                                     "from another profile or API") from None
        if self.spec.source == "passphrase":
            self._key, self._header = key, {"kdf": envelope["kdf"], "wrapped_key": envelope["wrapped_key"]}
        return parse_record(plain.decode("utf-8", "replace"), profile, str(path))

    def _read(self, path: Path) -> bytes | None:
        return read_capped(path, 2 * MAX_RECORD)

    def _envelope(self, data: bytes, profile: str, path: Path) -> dict[str, Any]:
        try:
            envelope = json.loads(data)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or envelope.get("authcli") != FORMAT or envelope.get("version") != VERSION \
                or not isinstance(envelope.get("nonce"), str) or not isinstance(envelope.get("ciphertext"), str):
            raise self._undecryptable(profile, path, "it is not a whole encrypted authcli record (altered or truncated)")
        if self.spec.source == "passphrase" and not (isinstance(envelope.get("kdf"), dict)
                                                     and isinstance(envelope.get("wrapped_key"), str)):
            raise self._undecryptable(profile, path, "it holds no passphrase-wrapped key")
        return envelope

    def _undecryptable(self, profile: str, path: Path, why: str) -> UndecryptableRecord:
        flag = "" if profile == "default" else f" --profile {profile}"
        return UndecryptableRecord(
            f"the session of profile '{profile}' in {path} cannot be decrypted with {self.spec.describe()} ({why}); "
            f"it is left as it is: run again with the right key, or delete the file and run authcli login{flag}")

    # -- the key -----------------------------------------------------------------------------

    def _key_for(self, envelope: Mapping[str, Any], profile: str) -> Key:
        if self.spec.source != "passphrase":
            return self.key()
        if self._key is not None and self._header.get("wrapped_key") == envelope["wrapped_key"]:
            return self._key
        return self._passphrase_key(envelope, profile)

    def key(self) -> Key:
        """The data key of an env, file or command source (read once per store)."""
        if self._key is None:
            if self.spec.source == "env":
                self._key = from_env(self.env)
            elif self.spec.source == "file":
                self._key = from_file(self.spec.key_file or "")
            elif self.spec.source == "command":
                self._key = from_command(self.spec.key_command or "", self.env)
            else:
                raise AssertionError(self.spec.source)
        return self._key

    def _write_key(self, profile: str) -> Key:
        if self.spec.source != "passphrase":
            return self.key()
        if self._key is None:
            data = self._read(self._path(profile))
            if data is None:
                raise KeyUnavailable(f"profile '{profile}' has no passphrase-protected session to add to; "
                                     "run authcli login --storage encrypted")
            envelope = self._envelope(data, profile, self._path(profile))
            self._key = self._passphrase_key(envelope, profile)
            self._header = {"kdf": envelope["kdf"], "wrapped_key": envelope["wrapped_key"]}
        return self._key

    def _passphrase_key(self, header: Mapping[str, Any], profile: str) -> Key:
        """The data key from the kernel keyring's cache, else unwrapped with a typed passphrase
        (on a terminal only), then cached."""
        from .. import kernelkeyring

        name = cache_name(header)
        why = ""
        try:
            cached = kernelkeyring.find(name)
            if cached is not None and len(cached) == 32:
                return Key(cached)
        except kernelkeyring.Unavailable as exc:
            why = str(exc)
        if not can_prompt():
            denied = f" (the kernel keyring is not available here: {why})" if why else ""
            raise KeyUnavailable(f"the session of profile '{profile}' is protected by a passphrase that is not "
                                 f"cached{denied}, and there is no terminal to ask for it; for scripts, "
                                 f"{SCRIPT_CHOICES}")
        if why:
            self._note_denied(why)
        for _ in range(PROMPTS):
            key = unwrap(ask(f"Passphrase for profile '{profile}': "), header)
            if key is not None:
                break
            import sys

            sys.stderr.write("authcli: wrong passphrase\n")
        else:
            raise KeyUnavailable(f"wrong passphrase for profile '{profile}' ({PROMPTS} tries)")
        if not why:
            self.cache(name, key)
        return key

    def cache(self, name: str, key: Key) -> None:
        from .. import kernelkeyring
        from ..config import number_from_env

        timeout = number_from_env(self.env, "AUTHCLI_KEY_CACHE_TIMEOUT", self.spec.cache_timeout)
        try:
            kernelkeyring.store(name, key.value, timeout)
        except kernelkeyring.Unavailable as exc:
            self._note_denied(str(exc))

    def _note_denied(self, why: str) -> None:
        """Say once (per state dir) that the kernel keyring is denied and why every command asks."""
        note = self.paths.state_dir / DENIED_NOTE
        if note.exists():
            return
        import sys

        sys.stderr.write(f"authcli: the kernel keyring is not available here ({why}), so the passphrase cannot be "
                         "cached: every command will ask for it. For scripts, "
                         f"set {ENV} or use --key-command instead.\n")
        try:
            self.paths.private(self.paths.state_dir)
            atomic_write(note, why.encode() + b"\n")
        except (OSError, StorageError):
            pass

    # -- writing -----------------------------------------------------------------------------

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        key = self._write_key(profile)
        path = self._path(profile)
        self.paths.private(self.directory)
        self._sweep(path)
        atomic = self._seal(profile, key, record)
        try:
            atomic_write(path, atomic, mode=0o600)
        except OSError as exc:
            raise StorageError(f"cannot write token file {path}: {exc.strerror or exc}") from None

    def _seal(self, profile: str, key: Key, record: TokenRecord) -> bytes:
        wrapped = self._header.get("wrapped_key") if self.spec.source == "passphrase" else None
        nonce = os.urandom(12)
        ciphertext = _aesgcm(key).encrypt(nonce, record.to_json().encode("utf-8"),
                                          associated_data(profile, self.origin, self.spec.source, wrapped))
        envelope: dict[str, Any] = {"authcli": FORMAT, "version": VERSION, "source": self.spec.source,
                                    "nonce": base64.b64encode(nonce).decode(),
                                    "ciphertext": base64.b64encode(ciphertext).decode()}
        if wrapped is not None:
            envelope.update(kdf=self._header["kdf"], wrapped_key=wrapped)
        return json.dumps(envelope).encode() + b"\n"

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        self._write_key(profile)
        self.paths.private(self.directory)
        try:
            probe_write(self.directory, 2 * len(record.to_json()) + HEADROOM)
        except OSError as exc:
            raise StorageError(
                f"cannot write token file {self._path(profile)}: {exc.strerror or exc}; the session was not "
                "refreshed and is intact: free some space (or make the directory writable) and try again"
            ) from None

    def delete(self, profile: str) -> bool:
        if self.spec.source == "passphrase":
            data = self._read(self._path(profile))
            try:
                envelope = json.loads(data) if data else None
            except ValueError:
                envelope = None
            if isinstance(envelope, dict) and isinstance(envelope.get("wrapped_key"), str):
                from .. import kernelkeyring

                kernelkeyring.forget(cache_name(envelope))
        return super().delete(profile)
