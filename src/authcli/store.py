"""Where token records live: the OS keyring (default) or, opted in, a private file.

Both stores hold one small versioned JSON record per profile and pass the same contract
tests (tests/unit/test_store_contract.py). Library exceptions are translated here.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from .config import check_profile_name
from .errors import CorruptRecord, KeyringUnavailable, StorageError
from .fsutil import atomic_write, check_private_chain, ensure_private_dir, probe_write
from .oscalls import open_file
from .tokens import MalformedRecord, TokenRecord

if TYPE_CHECKING:
    from .config import Paths, Profile

SERVICE = "authcli"

T = TypeVar("T")
MAX_RECORD = 1024 * 1024
MAX_DUPLICATES = 16  # items one logout removes under one service and name, at most


class Store(Protocol):
    kind: str
    # Seconds the engine keeps trying to save a refreshed record (its predecessor is spent):
    # a shared store's outage can be longer than a local disk's hiccup.
    save_patience: float

    def load(self, profile: str) -> TokenRecord | None: ...

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        """``replaces``: the record the refresh engine read under its locks. A store shared
        beyond this machine's lock refuses (Fenced) when something newer is there now."""
        ...

    def lease(self, profile: str, timeout: float, ready: Callable[[], bool] | None = None
              ) -> AbstractContextManager[bool]:
        """The lock beyond this machine's, taken after the profile's file lock: a store only
        this machine sees needs none (yields True); see redisstore.py for the fleet's."""
        ...

    def confirm(self, profile: str) -> bool:
        """Whether the lease is still held, asked just before a refresh token is spent."""
        ...

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        """Raise StorageError unless a record like ``record`` could be saved now. The refresh
        engine asks before it spends a refresh token whose successor it must keep."""
        ...

    def delete(self, profile: str) -> bool: ...

    def location(self, profile: str) -> str: ...


def parse_record(text: str, profile: str, where: str) -> TokenRecord:
    try:
        return TokenRecord.from_json(text)
    except MalformedRecord as exc:
        raise CorruptRecord(
            f"the stored session for profile '{profile}' in {where} is unreadable ({exc}); "
            f"run authcli login{_profile_flag(profile)} to replace it"
        ) from None


def _profile_flag(profile: str) -> str:
    return "" if profile == "default" else f" --profile {profile}"


# Room for a new record larger than the current one (a longer rotated token, a new ID token).
HEADROOM = 16 * 1024


class LocalStore:
    """What a store that lives on this machine does about leases: the file lock is enough."""

    save_patience = 0.0

    def lease(self, profile: str, timeout: float, ready: Callable[[], bool] | None = None
              ) -> AbstractContextManager[bool]:
        return nullcontext(True)

    def confirm(self, profile: str) -> bool:
        return True


class FileStore(LocalStore):
    """One 0600 JSON file per profile, replaced atomically, in a private directory."""

    kind = "file"

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.directory = paths.tokens_dir

    def _path(self, profile: str) -> Path:
        return self.directory / f"{check_profile_name(profile)}.json"

    def location(self, profile: str) -> str:
        return str(self._path(profile))

    def load(self, profile: str) -> TokenRecord | None:
        path = self._path(profile)
        if not check_private_chain(self.directory, self.paths.top(self.directory)):
            return None
        try:
            fd = open_file(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read token file {path}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "rb") as handle:
                text = handle.read(MAX_RECORD + 1).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read token file {path}: {exc}") from None
        if len(text) > MAX_RECORD:
            raise CorruptRecord(f"token file {path} is too large to be an authcli record; "
                                f"run authcli login{_profile_flag(profile)} to replace it")
        return parse_record(text, profile, str(path))

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        path = self._path(profile)
        self.paths.private(self.directory)
        self._sweep(path)
        try:
            atomic_write(path, record.to_json().encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise StorageError(f"cannot write token file {path}: {exc.strerror or exc}") from None

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        self.paths.private(self.directory)
        try:
            probe_write(self.directory, len(record.to_json()) + HEADROOM)
        except OSError as exc:
            raise StorageError(
                f"cannot write token file {self._path(profile)}: {exc.strerror or exc}; the session was not "
                "refreshed and is intact: free some space (or make the directory writable) and try again"
            ) from None

    @staticmethod
    def _sweep(path: Path) -> None:
        """Remove temporary files a killed writer left behind (they may hold tokens). A live
        writer's file exists for milliseconds; only files a minute old are touched."""
        stale = time.time() - 60
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):
            try:
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()
            except OSError:
                pass

    def delete(self, profile: str) -> bool:
        path = self._path(profile)
        self._sweep(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot delete token file {path}: {exc.strerror or exc}") from None
        return True


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

    def __init__(self, service: str = SERVICE, backend_cache: Path | None = None) -> None:
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
    """The keyring service name: 'authcli' (or AUTHCLI_KEYRING_SERVICE), followed by the
    directory when AUTHCLI_CONFIG_DIR chose one, so each config dir's entries are its own and
    are guarded by its own lock files."""
    service = env.get("AUTHCLI_KEYRING_SERVICE") or SERVICE
    return f"{service}@{paths.scope}" if paths.scope else service


def make_store(kind: str, paths: Paths, env: Mapping[str, str], profile: Profile | None = None) -> Store:
    if kind == "file":
        return FileStore(paths)
    if kind == "redis":
        return redis_store(profile, paths, env)
    if kind == "encrypted":
        return encrypted_store(profile, paths, env)
    cache = paths.state_dir / "keyring-backend"
    if sys.platform == "linux":  # the Secret Service shortcut (jeepney); Keychain and Credential Locker: keyring
        from .secretservice import SecretServiceStore, usable

        if usable(env, cache):
            return SecretServiceStore(keyring_service(paths, env), backend_cache=cache)
    return KeyringStore(keyring_service(paths, env), backend_cache=cache)


def encrypted_store(profile: Profile | None, paths: Paths, env: Mapping[str, str]) -> Store:
    """The profile's encrypted file, bound to its API origin, with the key source it names."""
    from .encstore import EncryptedStore
    from .errors import UsageError
    from .storagekey import spec_of
    from .urls import origin_str

    if profile is None or not profile.api_url:
        raise UsageError("storage 'encrypted' needs the profile's api_url (authcli login --api-url URL)")
    return EncryptedStore(paths, spec_of(profile), origin_str(profile.api_url), env)


def redis_password_entry(profile: str) -> str:
    return f"redis-password:{profile}"


def redis_store(profile: Profile | None, paths: Paths, env: Mapping[str, str]) -> Store:
    """The profile's Redis: AUTHCLI_REDIS_URL, else its redis_url; the namespace from
    redis_namespace, else the API's origin. The password, when the URL has none and
    AUTHCLI_REDIS_PASSWORD is not set, from this machine's keyring if login put it there."""
    from .errors import UsageError
    from .redisstore import LEASE_MARGIN, RedisStore
    from .urls import origin_str

    url = env.get("AUTHCLI_REDIS_URL") or (profile.redis_url if profile else None)
    if not url:
        raise UsageError("storage 'redis' needs a server: set AUTHCLI_REDIS_URL or the profile's redis_url "
                         "(authcli login --storage redis --redis-url redis://HOST:6379/0)")
    if profile is None or not (profile.redis_namespace or profile.api_url):
        raise UsageError("storage 'redis' needs the profile's api_url or redis_namespace")
    namespace = profile.redis_namespace or origin_str(profile.api_url or "")
    # Longer than a refresh can take (the deadline, twice with the transient retry), plus a margin.
    name = profile.name

    def from_keyring() -> str | None:
        if profile is None or profile.redis_auth != "keyring":
            return None
        return cast(KeyringStore, make_store("keyring", paths, env)).get_secret(redis_password_entry(name))

    return RedisStore(url, namespace, env, lease_ttl=2 * profile.timeout + LEASE_MARGIN, password=from_keyring)
