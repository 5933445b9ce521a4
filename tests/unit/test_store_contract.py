"""One contract every store passes (as keyring's BackendBasicTests). The keyring store runs
against the real Secret Service of the private test session, under a throwaway service name."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from authcli.config import Paths
from authcli.errors import CorruptRecord, KeyringUnavailable, StorageError, UsageError
from authcli.storagekey import KeySpec, new_key_text
from authcli.stores.base import Store
from authcli.stores.encrypted import EncryptedStore, associated_data
from authcli.stores.file import FileStore
from authcli.stores.keyring import KeyringStore
from authcli.stores.redis import RedisStore
from authcli.stores.secretservice import SecretServiceStore
from authcli.stores.secretservice_wire import read
from authcli.tokens import TokenRecord
from tests.helpers import KEY_TEXT, ORIGIN, RECORD, encrypted_store
from tests.platforms import POSIX_MODES

ROTATED = TokenRecord("access-2", "refresh-2", 3000.0, 2000.0, "https://api.example.com:443")


def file_store(root: Path) -> FileStore:
    """A file store under ``root`` as AUTHCLI_CONFIG_DIR lays it out: root/state/tokens."""
    return FileStore(Paths(config_dir=root, state_dir=root / "state", scope=str(root)))


@pytest.fixture(params=["file", pytest.param("keyring", marks=pytest.mark.keyring),
                        pytest.param("secretservice", marks=pytest.mark.keyring), "redis",
                        "encrypted", "encrypted-passphrase"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield file_store(tmp_path)
        return
    if request.param.startswith("encrypted"):
        yield encrypted_store(tmp_path, "passphrase" if request.param.endswith("passphrase") else "env")
        return
    if request.param == "redis":  # a real redis-server, like the keyring's real Secret Service
        redis = request.getfixturevalue("start_redis")()
        yield RedisStore(redis.url, "https://api.example.com:443", {}, lease_ttl=10)
        return
    kind = SecretServiceStore if request.param == "secretservice" else KeyringStore
    keyring_store = kind(service=f"authcli-contract-{uuid.uuid4().hex[:8]}")
    yield keyring_store
    keyring_store.delete("p")
    keyring_store.delete("other")


def write_raw(store: Store, profile: str, text: str) -> None:
    if isinstance(store, EncryptedStore):  # a foreign record, properly encrypted: the record is what is wrong
        import base64
        import json

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = store._write_key(profile) if store.spec.source == "passphrase" else store.key()
        wrapped = store._header.get("wrapped_key")
        nonce = os.urandom(12)
        sealed = AESGCM(key.value).encrypt(nonce, text.encode(), associated_data(profile, ORIGIN, store.spec.source,
                                                                                 wrapped))
        envelope = {"authcli": "encrypted-record", "version": 1, "source": store.spec.source,
                    "nonce": base64.b64encode(nonce).decode(), "ciphertext": base64.b64encode(sealed).decode()}
        if wrapped:
            envelope.update(kdf=store._header["kdf"], wrapped_key=wrapped)
        path = Path(store.location(profile))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(envelope))
    elif isinstance(store, FileStore):
        path = Path(store.location(profile))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    elif isinstance(store, RedisStore):
        store._redis().hset(store.key(profile), "record", text)
    else:
        import keyring

        keyring.set_password(store.service, profile, text)  # type: ignore[attr-defined]


class TestStoreContract:
    def test_missing_is_none(self, store: Store) -> None:
        assert store.load("p") is None

    def test_roundtrip(self, store: Store) -> None:
        store.save("p", RECORD)
        assert store.load("p") == RECORD

    def test_overwrite(self, store: Store) -> None:
        store.save("p", RECORD)
        store.save("p", ROTATED)
        assert store.load("p") == ROTATED

    def test_profiles_are_separate(self, store: Store) -> None:
        store.save("p", RECORD)
        store.save("other", ROTATED)
        assert store.load("p") == RECORD and store.load("other") == ROTATED

    def test_delete(self, store: Store) -> None:
        store.save("p", RECORD)
        assert store.delete("p") is True
        assert store.load("p") is None
        assert store.delete("p") is False

    @pytest.mark.parametrize("text", ["hunter2", "{}", '{"version": 99}'])
    def test_foreign_record_is_an_error_and_kept(self, store: Store, text: str) -> None:
        write_raw(store, "p", text)
        with pytest.raises(CorruptRecord, match="run authcli login --profile p"):
            store.load("p")
        store.save("p", RECORD)  # login can replace it
        assert store.load("p") == RECORD

    def test_check_writable_leaves_the_record_as_it_was(self, store: Store) -> None:
        store.save("p", RECORD)
        store.check_writable("p", RECORD)
        assert store.load("p") == RECORD

    def test_location_names_no_secret(self, store: Store) -> None:
        store.save("p", RECORD)
        assert "access-1" not in store.location("p") and "refresh-1" not in store.location("p")


def test_file_store_is_private_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = file_store(tmp_path / "a")
    store.save("p", RECORD)
    store.save("p", ROTATED)
    path = Path(store.location("p"))
    if POSIX_MODES:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.json"]


def test_file_store_refuses_path_like_profile_names(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid profile name"):
        file_store(tmp_path).load("../evil")


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


def test_file_store_sweeps_temp_files_a_killed_writer_left(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    store.save("p", RECORD)
    leftover = tmp_path / "state" / "tokens" / ".p.json.0123456789ab.tmp"
    live = tmp_path / "state" / "tokens" / ".p.json.ba9876543210.tmp"  # another writer, right now
    for path in (leftover, live):
        path.write_text(RECORD.to_json())
    os.utime(leftover, (1, 1))
    store.save("p", ROTATED)
    assert not leftover.exists() and live.exists()
    live.unlink()
    leftover.write_text(RECORD.to_json())
    os.utime(leftover, (1, 1))
    store.delete("p")
    assert list((tmp_path / "state" / "tokens").iterdir()) == []


@pytest.mark.keyring
def test_the_direct_secret_service_store_and_keyring_share_their_items() -> None:
    """Entries written through keyring are read directly, and the other way round: an
    upgrade, or a machine where one path is used, never loses a session."""
    service = f"authcli-interop-{uuid.uuid4().hex[:8]}"
    through_keyring, direct = KeyringStore(service=service), SecretServiceStore(service=service)
    try:
        through_keyring.save("a", RECORD)
        assert direct.load("a") == RECORD
        # ...and read by the jeepney path itself, not by the keyring fallback:
        assert read({"username": "a", "service": service}) == RECORD.to_json()
        assert read({"username": "nobody", "service": service}) is None
        direct.save("a", ROTATED)
        assert through_keyring.load("a") == ROTATED
        direct.save("b", RECORD)
        assert through_keyring.load("b") == RECORD
        assert through_keyring.delete("b") and direct.load("b") is None
        assert direct.delete("a") and through_keyring.load("a") is None
    finally:
        through_keyring.delete("a")
        through_keyring.delete("b")


@pytest.mark.parametrize(("env", "cache", "config", "expected"), [
    ({}, "keyring.backends.SecretService.Keyring", False, True),
    ({"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}, "keyring.backends.SecretService.Keyring", False, False),
    ({}, "keyring.backends.kwallet.DBusKeyring", False, False),
    ({}, None, False, False),  # the first run: keyring finds the backend
    ({}, "keyring.backends.SecretService.Keyring", True, False),  # keyringrc.cfg: keyring decides
])
def test_the_direct_path_is_taken_only_where_keyring_would_use_the_secret_service(
        tmp_path: Path, env: dict[str, str], cache: str | None, config: bool, expected: bool) -> None:
    from authcli.stores.secretservice_wire import usable

    cache_file = tmp_path / "keyring-backend"
    if cache is not None:
        cache_file.write_text(cache + "\n")
    if config:
        (tmp_path / "cfg" / "python_keyring").mkdir(parents=True)
        (tmp_path / "cfg" / "python_keyring" / "keyringrc.cfg").write_text("[backend]\n")
    assert usable({**env, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, cache_file) is expected


# -- the encrypted store (issue 20) -----------------------------------------------------------

def _flip(data: bytes) -> bytes:
    import json

    envelope = json.loads(data)
    raw = bytearray(__import__("base64").b64decode(envelope["ciphertext"]))
    raw[len(raw) // 2] ^= 0x01
    envelope["ciphertext"] = __import__("base64").b64encode(bytes(raw)).decode()
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(("tamper", "why"), [
    ("flipped byte", "wrong key, or the file was altered"),
    ("truncated", "altered or truncated"),
    ("copied from another profile", "copied from another profile"),
    ("other API", "copied from another profile or API"),
    ("wrong key", "wrong key"),
])
def test_an_encrypted_record_that_does_not_decrypt_is_an_error_and_is_kept(tmp_path: Path, tamper: str,
                                                                           why: str) -> None:
    from authcli.stores.encrypted import UndecryptableRecord

    store = encrypted_store(tmp_path)
    store.save("p", RECORD)
    store.save("other", ROTATED)
    path, reader, profile = Path(store.location("p")), encrypted_store(tmp_path), "p"
    if tamper == "flipped byte":
        path.write_bytes(_flip(path.read_bytes()))
    elif tamper == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif tamper == "copied from another profile":
        path.write_bytes(Path(store.location("other")).read_bytes())
    elif tamper == "other API":
        reader.origin = "https://evil.example.com:443"
    else:
        reader = encrypted_store(tmp_path, key_text=new_key_text().decode())
    before = path.read_bytes()
    with pytest.raises(UndecryptableRecord, match=why) as raised:
        reader.load(profile)
    assert "AUTHCLI_STORAGE_KEY" in raised.value.message and "not logged in" not in raised.value.message
    assert path.read_bytes() == before


def test_the_encrypted_file_is_private_holds_no_secret_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = encrypted_store(tmp_path)
    store.save("p", RECORD)
    store.save("p", ROTATED)
    path = Path(store.location("p"))
    assert path.name == "p.enc"
    if POSIX_MODES:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.enc"]
    text = path.read_text()
    assert "access-2" not in text and "refresh-2" not in text and KEY_TEXT.strip() not in text
    assert KEY_TEXT.strip() not in repr(store) and "refresh" not in repr(store)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "AUTHCLI_STORAGE_KEY is not set"),
    ({"AUTHCLI_STORAGE_KEY": "c2hvcnQ="}, "AUTHCLI_STORAGE_KEY is not a storage key"),
])
def test_a_missing_or_malformed_env_key_is_exit_6_naming_it(tmp_path: Path, env: dict[str, str],
                                                            message: str) -> None:
    from authcli.storagekey import KeyUnavailable

    encrypted_store(tmp_path).save("p", RECORD)
    store = encrypted_store(tmp_path)
    store.env = env
    with pytest.raises(KeyUnavailable, match=message) as raised:
        store.load("p")
    assert raised.value.exit_code == 6 and "c2hvcnQ" not in raised.value.message


def test_a_passphrase_store_finds_its_key_in_the_kernel_keyring(tmp_path: Path) -> None:
    from authcli import kernelkeyring
    from authcli.storagekey import cache_name

    store = encrypted_store(tmp_path, "passphrase")
    store.save("p", RECORD)
    name = cache_name(store._header)
    try:
        store.cache(name, store._key)  # type: ignore[arg-type]
    except kernelkeyring.Unavailable:
        pytest.skip("no kernel keyring here")
    try:
        fresh = EncryptedStore(store.paths, KeySpec("passphrase"), ORIGIN, {})
        assert fresh.load("p") == RECORD  # no terminal: only the cache can have answered
    finally:
        kernelkeyring.forget(name)
    from authcli.storagekey import KeyUnavailable

    with pytest.raises(KeyUnavailable, match="no terminal to ask for it; for scripts, set AUTHCLI_STORAGE_KEY"):
        EncryptedStore(store.paths, KeySpec("passphrase"), ORIGIN, {}).load("p")


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
