"""The OS keyring through the keyring library (macOS Keychain, Windows Credential Locker, the
Secret Service where secretservice.py does not answer first): the default store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from ..errors import KeyringUnavailable, StorageError
from ..fsutil import atomic_write, ensure_private_dir
from ..rules import KEYRING_SERVICE
from ..rules import keyring_service as rules_keyring_service
from ..tokens import TokenRecord
from .base import MAX_DUPLICATES, LocalStore, parse_record

if TYPE_CHECKING:
    from ..config import Paths

T = TypeVar("T")


# Never a silent downgrade: the three ways on, in this order, and authcli picks none of them.
NO_KEYRING_HINT = (
    "no OS keyring is available{why}; choose where the session is kept: "
    "(1) encrypted: authcli login --storage encrypted (key from AUTHCLI_STORAGE_KEY, --key-file, --key-command, "
    "or a passphrase on a terminal); "
    "(2) a plain file protected only by its permissions: authcli login --storage file; "
    "(3) the OS keyring: start a Secret Service (e.g. gnome-keyring) and log in again"
)
# Backends keyring picks on its own when they are installed, which keep secrets in a plain file
# or ask for a password with getpass (hanging a script): to authcli they are no keyring at all.
DOWNGRADES = ("keyrings.alt", "keyrings.cryptfile")


def downgrade(backend: object) -> str | None:
    """The dotted name of ``backend`` (or of a chainer's first backend) when it is one of
    DOWNGRADES, else None."""
    first = backend
    chained = getattr(backend, "backends", None)
    if type(backend).__name__ == "ChainerBackend" and chained:
        first = list(chained)[0]
    name = f"{type(first).__module__}.{type(first).__name__}"
    return name if name.startswith(tuple(f"{package}." for package in DOWNGRADES)) else None


class KeyringStore(LocalStore):
    """The OS keyring through the keyring library: service 'authcli', one entry per profile."""

    kind = "keyring"
    attempts = 3

    def __init__(self, service: str = KEYRING_SERVICE, backend_cache: Path | None = None) -> None:
        self.service = service
        self.backend_cache = backend_cache
        self._loaded = False
        self._refused: str | None = None

    def location(self, profile: str) -> str:
        return f"OS keyring (service '{self.service}', entry '{profile}')"

    def load(self, profile: str) -> TokenRecord | None:
        keyring = self._keyring()
        text = self._call(lambda: keyring.get_password(self.service, profile))
        if text is None:
            return None
        return self._parse(text, profile)

    @staticmethod
    def _parse(text: str, profile: str) -> TokenRecord:
        return parse_record(text, profile, "the OS keyring")

    def get_secret(self, entry: str) -> str | None:
        """Another secret kept beside the records (a fleet's Redis password)."""
        keyring = self._keyring()
        value: str | None = self._call(lambda: keyring.get_password(self.service, entry))
        return value

    def set_secret(self, entry: str, value: str) -> None:
        keyring = self._keyring()
        self._call(lambda: keyring.set_password(self.service, entry, value))

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        keyring = self._keyring()
        self._call(lambda: keyring.set_password(self.service, profile, record.to_json()))

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        """Write the current record again: a locked or refusing keyring fails here, before the
        refresh token is spent, not after."""
        try:
            self.save(profile, record)
        except StorageError as exc:
            raise type(exc)(f"{exc.message} (the session was not refreshed and is intact)") from None

    def delete(self, profile: str) -> bool:
        keyring = self._keyring()
        from keyring.errors import PasswordDeleteError

        def delete() -> bool:
            # keyring deletes one matching item per call: go on until none is left, so a second
            # item under the same service and name cannot keep the session alive after logout.
            removed = False
            for _ in range(MAX_DUPLICATES):
                if keyring.get_password(self.service, profile) is None:
                    break
                try:
                    keyring.delete_password(self.service, profile)
                except PasswordDeleteError:
                    break
                removed = True
            return removed

        return self._call(delete)

    def _keyring(self) -> ModuleType:
        import keyring

        if not self._loaded:
            self._select_backend()
            self._refused = downgrade(keyring.get_keyring())
            self._loaded = True
        if self._refused:
            raise KeyringUnavailable(NO_KEYRING_HINT.format(
                why=f" (keyring would use {self._refused}, which keeps secrets in a plain file or asks for a "
                    "password that a script cannot type)"))
        return keyring

    def _select_backend(self) -> None:
        """Name the backend found last time instead of letting keyring probe every backend again
        (60-80 ms per run). PYTHON_KEYRING_BACKEND and keyringrc.cfg still come first."""
        import keyring.core

        cache = self.backend_cache
        if cache is None or "PYTHON_KEYRING_BACKEND" in os.environ:
            return
        try:
            name = cache.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = ""
        if name:
            try:
                keyring.core.set_keyring(keyring.core.load_config() or keyring.core.load_keyring(name))
                return
            except (ImportError, AttributeError, RuntimeError, ValueError):
                self._forget_backend()
        backend = keyring.core.get_keyring()
        if keyring.core.recommended(backend):
            try:
                ensure_private_dir(cache.parent)
                atomic_write(cache, f"{type(backend).__module__}.{type(backend).__name__}\n".encode(), mode=0o600)
            except (OSError, StorageError):
                pass  # only a cache

    def _forget_backend(self) -> None:
        if self.backend_cache is not None:
            try:
                os.unlink(self.backend_cache)
            except OSError:
                pass

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one keyring call, retrying the Secret Service's known transient failures."""
        from keyring.errors import InitError, KeyringError, KeyringLocked, NoKeyringError

        transient: tuple[type[BaseException], ...] = ()
        try:
            from secretstorage.exceptions import ItemNotFoundException

            transient = (ItemNotFoundException,)
        except ImportError:
            pass

        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except NoKeyringError:
                self._forget_backend()
                raise KeyringUnavailable(NO_KEYRING_HINT.format(why="")) from None
            except KeyringLocked:
                raise KeyringUnavailable(
                    "the OS keyring is locked; unlock it (log in to your desktop session, "
                    "or unlock it with your keyring tool) and try again"
                ) from None
            except InitError as exc:
                if "dismissed" in str(exc).lower() and attempt < self.attempts:
                    time.sleep(0.05 * attempt)
                    continue
                raise KeyringUnavailable(
                    f"the OS keyring could not be opened ({exc}); unlock it and try again, "
                    "or opt in to file storage with: authcli login --storage file"
                ) from None
            except transient:
                if attempt < self.attempts:
                    time.sleep(0.05 * attempt)
                    continue
                raise StorageError("the OS keyring kept failing (item not found); try again") from None
            except KeyringError as exc:
                raise StorageError(f"keyring error: {exc}") from None
            except RuntimeError as exc:
                # SecretService raises a bare RuntimeError when there is no D-Bus session at all.
                if "DBUS_SESSION_BUS_ADDRESS" in str(exc) or "SecretService" in str(exc):
                    self._forget_backend()
                    raise KeyringUnavailable(NO_KEYRING_HINT.format(why=" (no D-Bus session)")) from None
                raise
        raise AssertionError("unreachable")


def keyring_service(paths: Paths, env: Mapping[str, str]) -> str:
    """The profile entries' service for ``paths`` (rules.keyring_service, which shortcut.py shares)."""
    return rules_keyring_service(env, paths.scope)
