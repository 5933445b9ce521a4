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

from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import CorruptRecord, UseFullPath
from ..tokens import TokenRecord
from .keyring import KeyringStore
from .secretservice_wire import Ambiguous, own, query, read

T = TypeVar("T")


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
        return query(self.service, profile)

    def _own(self, profile: str) -> dict[str, str]:
        return own(self.service, profile)

    def load(self, profile: str) -> TokenRecord | None:
        """Read with jeepney alone: secretstorage imports cryptography (~15 ms) for the session
        ciphers, and every `authcli token` reads while only refreshes and logins write."""
        try:
            text = read(self._own(profile))
        except UseFullPath:
            return super().load(profile)
        except Ambiguous:
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

