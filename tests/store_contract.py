"""The one contract every store passes (keyring's BackendBasicTests shape, STYLE.md habit 6).

Not named test_*, so pytest collects it only through the stores' own test modules
(tests/unit/test_store_<name>.py). A new store gets tested by subclassing it there:

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path: Path) -> Iterator[Store]:
            yield MyStore(...)          # a fresh, empty store; clean up after the yield

        def write_raw(self, store: Store, profile: str, text: str) -> None:
            ...                         # put ``text`` where ``store.load(profile)`` will read it

``write_raw`` writes a foreign record the way something other than authcli would, bypassing
``save``, so the contract can check that a store reports it instead of taking it for "not
logged in". Stores that need a real service (the Secret Service, redis-server) use it for real,
and mark their class or fixture as tests/conftest.py expects, so they skip where it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from authcli.errors import CorruptRecord
from authcli.stores.base import Store
from authcli.tokens import TokenRecord
from tests.helpers import RECORD

ROTATED = TokenRecord("access-2", "refresh-2", 3000.0, 2000.0, "https://api.example.com:443")


class StoreContract:
    """Subclasses provide the ``store`` fixture and ``write_raw``; see the module docstring."""

    def write_raw(self, store: Store, profile: str, text: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say how to write a foreign record")

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
        self.write_raw(store, "p", text)
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


class KeyringServiceContract(StoreContract):
    """The contract for a store keeping its records as keyring items (stores/keyring.py and
    stores/secretservice.py): a throwaway service name each, foreign items written with keyring."""

    store_class: type

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        import uuid

        kept = self.store_class(service=f"authcli-contract-{uuid.uuid4().hex[:8]}")
        yield kept
        kept.delete("p")
        kept.delete("other")

    def write_raw(self, store: Store, profile: str, text: str) -> None:
        import keyring

        keyring.set_password(store.service, profile, text)  # type: ignore[attr-defined]
