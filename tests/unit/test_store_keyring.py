"""The keyring store: the contract (tests/store_contract.py) against the real Secret Service of
the private test session, under a throwaway service name; its retries of keyring's transient
errors; and keyrings.alt (a plain file under another name) counting as no keyring."""

from __future__ import annotations

import pytest

from authcli.errors import KeyringUnavailable, StorageError
from authcli.stores.keyring import KeyringStore
from tests.store_contract import KeyringServiceContract


@pytest.mark.keyring
class TestKeyringStore(KeyringServiceContract):
    store_class = KeyringStore


class FakeKeyring:
    """Raises the exceptions real backends raise, in order, then answers."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def _errors():  # type: ignore[no-untyped-def]
    from keyring.errors import InitError, KeyringLocked, NoKeyringError
    from secretstorage.exceptions import ItemNotFoundException

    return InitError, KeyringLocked, NoKeyringError, ItemNotFoundException


def test_keyring_transient_errors_are_retried() -> None:
    InitError, _, _, ItemNotFound = _errors()
    fake = FakeKeyring(ItemNotFound("gone"), InitError("Failed to create the collection: Prompt dismissed.."))
    assert KeyringStore()._call(fake) == "ok"
    assert fake.calls == 3


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (lambda e: e[2]("No recommended backend was available"), "no OS keyring is available"),
        (lambda e: e[1]("locked"), "the OS keyring is locked"),
        (lambda e: RuntimeError("Unable to initialize SecretService: Environment variable "
                                "DBUS_SESSION_BUS_ADDRESS is unset"), "no D-Bus session"),
    ],
)
def test_keyring_fatal_errors_are_not_retried(failure, message: str) -> None:  # type: ignore[no-untyped-def]
    fake = FakeKeyring(failure(_errors()), failure(_errors()))
    with pytest.raises(KeyringUnavailable, match=message):
        KeyringStore()._call(fake)
    assert fake.calls == 1


def test_keyring_gives_up_after_bounded_retries() -> None:
    _, _, _, ItemNotFound = _errors()
    fake = FakeKeyring(*[ItemNotFound("gone")] * 5)
    with pytest.raises(StorageError, match="kept failing"):
        KeyringStore()._call(fake)
    assert fake.calls == KeyringStore.attempts


def _backend(module: str, name: str = "Keyring") -> object:
    return type(name, (), {"__module__": module})()


def _chainer(*backends: object) -> object:
    return type("ChainerBackend", (), {"__module__": "keyring.backends.chainer", "backends": list(backends)})()


@pytest.mark.parametrize(("backend", "refused"), [
    (_backend("keyrings.alt.file", "PlaintextKeyring"), "keyrings.alt.file.PlaintextKeyring"),
    (_backend("keyrings.alt.file", "EncryptedKeyring"), "keyrings.alt.file.EncryptedKeyring"),
    (_backend("keyrings.cryptfile.cryptfile", "CryptFileKeyring"), "keyrings.cryptfile.cryptfile.CryptFileKeyring"),
    (_chainer(_backend("keyrings.alt.file", "PlaintextKeyring"), _backend("keyring.backends.SecretService")),
     "keyrings.alt.file.PlaintextKeyring"),
    (_chainer(_backend("keyring.backends.SecretService"), _backend("keyrings.alt.file", "PlaintextKeyring")), None),
    (_backend("keyring.backends.SecretService"), None),
    (_backend("keyring.backends.fail"), None),
    (_backend("keyrings_alternative.x"), None),
])
def test_keyrings_alt_and_cryptfile_count_as_no_keyring(backend: object, refused: str | None) -> None:
    from authcli.stores.keyring import downgrade

    assert downgrade(backend) == refused


def test_a_keyring_store_on_keyrings_alt_says_why_it_is_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    import keyring.core

    store = KeyringStore(service="authcli-never-written")
    monkeypatch.setattr(keyring.core, "get_keyring", lambda: _backend("keyrings.alt.file", "PlaintextKeyring"))
    monkeypatch.setattr(keyring, "get_keyring", keyring.core.get_keyring)
    monkeypatch.setattr(keyring, "get_password", lambda *a: pytest.fail("keyrings.alt was used"))
    for _ in range(2):  # refused every time, not only on the first call
        with pytest.raises(KeyringUnavailable, match=r"no OS keyring is available \(keyring would use "
                                                     r"keyrings\.alt\.file\.PlaintextKeyring.*\(1\) encrypted.*"
                                                     r"\(2\) a plain file.*\(3\) the OS keyring"):
            store.load("p")
