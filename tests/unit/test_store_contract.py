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
from authcli.redisstore import RedisStore
from authcli.secretservice import SecretServiceStore, _read
from authcli.store import FileStore, KeyringStore, Store
from authcli.tokens import TokenRecord

RECORD = TokenRecord("access-1", "refresh-1", 2000.0, 1000.0, "https://api.example.com:443")
ROTATED = TokenRecord("access-2", "refresh-2", 3000.0, 2000.0, "https://api.example.com:443")


def file_store(root: Path) -> FileStore:
    """A file store under ``root`` as AUTHCLI_CONFIG_DIR lays it out: root/state/tokens."""
    return FileStore(Paths(config_dir=root, state_dir=root / "state", scope=str(root)))


@pytest.fixture(params=["file", pytest.param("keyring", marks=pytest.mark.keyring),
                        pytest.param("secretservice", marks=pytest.mark.keyring), "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield file_store(tmp_path)
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
    if isinstance(store, FileStore):
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
        assert _read({"username": "a", "service": service}) == RECORD.to_json()
        assert _read({"username": "nobody", "service": service}) is None
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
    from authcli.secretservice import usable

    cache_file = tmp_path / "keyring-backend"
    if cache is not None:
        cache_file.write_text(cache + "\n")
    if config:
        (tmp_path / "cfg" / "python_keyring").mkdir(parents=True)
        (tmp_path / "cfg" / "python_keyring" / "keyringrc.cfg").write_text("[backend]\n")
    assert usable({**env, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, cache_file) is expected
