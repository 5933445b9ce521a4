"""The encrypted store (issue 20), keyed from AUTHCLI_STORAGE_KEY or from a passphrase: the
contract (tests/store_contract.py) for both, and what only encryption can get wrong: a record
that does not decrypt, a secret left in the file, a missing key, the passphrase's cached key."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from authcli.storagekey import KeySpec, new_key_text
from authcli.stores.base import Store
from authcli.stores.encrypted import EncryptedStore, associated_data
from tests.helpers import KEY_TEXT, ORIGIN, RECORD, encrypted_store
from tests.platforms import POSIX_MODES
from tests.store_contract import ROTATED, StoreContract


class TestEncryptedStore(StoreContract):
    @pytest.fixture(params=["env", "passphrase"])
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
        yield encrypted_store(tmp_path, request.param)

    def write_raw(self, store: Store, profile: str, text: str) -> None:
        """A foreign record, properly encrypted: the record is what is wrong."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert isinstance(store, EncryptedStore)  # for the type checker: this class's store
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


def _flip(data: bytes) -> bytes:
    envelope = json.loads(data)
    raw = bytearray(base64.b64decode(envelope["ciphertext"]))
    raw[len(raw) // 2] ^= 0x01
    envelope["ciphertext"] = base64.b64encode(bytes(raw)).decode()
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
