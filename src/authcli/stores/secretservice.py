"""The Secret Service (Linux) without importing keyring.

`import keyring` costs ~76 ms on the project's machine, most of it for things authcli never
uses; the SecretService backend it ends up with is a thin layer over secretstorage, itself a
layer over jeepney (D-Bus). This store reads with jeepney alone (every `authcli token` reads;
secretstorage would add cryptography's import) and writes with secretstorage, touching the
very same items keyring's backend does (attributes ``service`` and ``username``, plus
``application`` on the items it creates, and the same label), so entries stay readable both
ways.

Two items can claim one profile (another program stored one under authcli's service and
user name, or a copy with the same attributes). Reads match on every attribute authcli writes
and refuse to choose between two such items (exit 6); logout deletes every item of the
profile under authcli's service, so no session survives it.

It is used only where keyring itself would use the Secret Service: the backend found on the
first run (remembered in state/keyring-backend) is keyring's SecretService backend, and
neither PYTHON_KEYRING_BACKEND nor a keyringrc.cfg says otherwise. Anything unusual (a locked
collection that needs a prompt, a D-Bus error, a missing daemon) is handed to the keyring
path, which prompts, retries and words the error as it always did.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import CorruptRecord, UseFullPath
from ..tokens import TokenRecord
from .keyring import KeyringStore

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
APPLICATION = "Python keyring library"  # keyring's SecretService.Keyring.appid
T = TypeVar("T")


def usable(env: Mapping[str, str], backend_cache: Path) -> bool:
    """Whether keyring would use the Secret Service here, as far as cheap checks can tell."""
    if sys.platform != "linux" or env.get("PYTHON_KEYRING_BACKEND"):
        return False
    config_home = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    if os.path.exists(os.path.join(config_home, "python_keyring", "keyringrc.cfg")):
        return False
    try:
        return backend_cache.read_text(encoding="utf-8").strip() == SECRET_SERVICE_BACKEND
    except (OSError, UnicodeDecodeError):
        return False


class _PlainSession:
    """What secretstorage's Item and Collection need of a session, for the 'plain' algorithm.

    secretstorage opens a Diffie-Hellman session by default, and its key exchange in pure
    Python is ~25 ms of a ~40 ms lookup. The secret travels over the user's own session bus
    either way, where any process of the same user could simply ask the Secret Service for
    it; libsecret's secret-tool is just as happy with 'plain'."""

    encrypted = False
    aes_key = None

    def __init__(self, object_path: str) -> None:
        self.object_path = object_path


def _plain_session(connection: Any) -> _PlainSession:
    from secretstorage.defines import ALGORITHM_PLAIN, SS_PATH
    from secretstorage.util import SERVICE_IFACE, DBusAddressWrapper

    service = DBusAddressWrapper(SS_PATH, SERVICE_IFACE, connection)
    _, path = service.call("OpenSession", "sv", ALGORITHM_PLAIN, ("s", ""))
    return _PlainSession(path)


_BUS = "org.freedesktop.secrets"
_DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"  # where keyring's backend looks


class _Ambiguous(Exception):
    """More than one item carries every attribute authcli writes for the profile."""


def _read(query: dict[str, str]) -> str | None:
    """The secret of the one item matching ``query`` in the default collection, or None;
    _Ambiguous for two; UseFullPath for anything else (locked, no service, any D-Bus error)."""
    from jeepney import DBusAddress, MessageType, Properties, new_method_call  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    def call(connection: Any, message: Any) -> Any:
        reply = connection.send_and_get_reply(message)
        if reply.header.message_type == MessageType.error:
            raise UseFullPath
        return reply.body

    def locked(connection: Any, address: Any) -> bool:
        ((_, value),) = call(connection, Properties(address).get("Locked"))
        return bool(value)

    try:
        connection = open_dbus_connection(bus="SESSION")
    except Exception:  # no session bus: the keyring path says so in its own words
        raise UseFullPath from None
    try:
        service = DBusAddress("/org/freedesktop/secrets", bus_name=_BUS, interface="org.freedesktop.Secret.Service")
        collection = DBusAddress(_DEFAULT_COLLECTION, bus_name=_BUS, interface="org.freedesktop.Secret.Collection")
        if locked(connection, collection):
            raise UseFullPath  # unlocking may need a prompt: keyring's job
        (paths,) = call(connection, new_method_call(collection, "SearchItems", "a{ss}", (query,)))
        if not paths:
            return None
        if len(paths) > 1:
            raise _Ambiguous
        item = DBusAddress(paths[0], bus_name=_BUS, interface="org.freedesktop.Secret.Item")
        if locked(connection, item):
            raise UseFullPath
        _, session = call(connection, new_method_call(service, "OpenSession", "sv", ("plain", ("s", ""))))
        ((_, _, value, _),) = call(connection, new_method_call(item, "GetSecret", "o", (session,)))
        return bytes(value).decode("utf-8")
    except (UseFullPath, _Ambiguous):
        raise
    except Exception:  # a malformed answer or a dropped bus: keyring retries and translates
        raise UseFullPath from None
    finally:
        connection.close()


class SecretServiceStore(KeyringStore):
    """KeyringStore that reads through jeepney and writes through secretstorage, falling back to keyring."""

    def _direct(self, work: Callable[[Any], T]) -> T:
        import secretstorage

        try:
            connection = secretstorage.dbus_init()
        except Exception:  # any failure here is the keyring path's to report
            raise UseFullPath from None
        try:
            # The default collection, as keyring's backend uses (keyring creates it when missing).
            session: Any = _plain_session(connection)
            collection = secretstorage.Collection(connection, session=session)
            if collection.is_locked():
                raise UseFullPath  # unlocking may need a prompt: keyring's job
            return work(collection)
        except UseFullPath:
            raise
        except Exception:  # as above: keyring retries and translates
            raise UseFullPath from None
        finally:
            connection.close()

    def _query(self, profile: str) -> dict[str, str]:
        """Every item of the profile under authcli's service (keyring's own query)."""
        return {"username": profile, "service": self.service}

    def _own(self, profile: str) -> dict[str, str]:
        """Every attribute authcli writes: what a read must match."""
        return {**self._query(profile), "application": APPLICATION}

    def load(self, profile: str) -> TokenRecord | None:
        """Read with jeepney alone: secretstorage imports cryptography (~15 ms) for the session
        ciphers, and every `authcli token` reads while only refreshes and logins write."""
        try:
            text = _read(self._own(profile))
        except UseFullPath:
            return super().load(profile)
        except _Ambiguous:
            flag = "" if profile == "default" else f" --profile {profile}"
            raise CorruptRecord(f"two items in the OS keyring (service '{self.service}') claim profile '{profile}'; "
                                f"run authcli logout{flag} (it removes them all), then authcli login{flag}") from None
        return None if text is None else self._parse(text, profile)

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        def write(collection: Any) -> None:
            own = list(collection.search_items(self._own(profile)))
            for extra in own[1:]:  # never leave two for reads to choose between
                extra.delete()
            collection.create_item(f"Password for '{profile}' on '{self.service}'", self._own(profile),
                                   record.to_json(), replace=True)

        try:
            self._direct(write)
        except UseFullPath:
            super().save(profile, record)

    def delete(self, profile: str) -> bool:
        def remove(collection: Any) -> bool:
            removed = False
            for item in list(collection.search_items(self._query(profile))):
                item.delete()  # all of them: a second item must not keep the session alive
                removed = True
            return removed

        try:
            return self._direct(remove)
        except UseFullPath:
            return super().delete(profile)

