"""shortcutenc (the token shortcut for encrypted profiles) answers exactly when the full path would
read the same record with the same key, and steps aside (None) otherwise."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from authcli.shortcutenc import record
from authcli.storagekey import Key, KeySpec, cache_name, new_key_text, wrap
from authcli.stores.encrypted import EncryptedStore
from authcli.tokens import TokenRecord
from tests.helpers import ORIGIN, RECORD, encrypted_store


def summary(source: str = "env", origin: str = ORIGIN) -> dict[str, object]:
    return {"api_origin": origin, "storage": "encrypted", "dpop": False, "storage_key": source}


def data(store: EncryptedStore, profile: str = "p") -> bytes:
    return Path(store.location(profile)).read_bytes()


def test_the_shortcut_reads_what_the_full_path_reads(tmp_path: Path) -> None:
    store = encrypted_store(tmp_path)
    store.save("p", RECORD)
    found = record(summary(), data(store), "p", dict(store.env))
    assert TokenRecord.from_json(json.dumps(found)) == store.load("p") == RECORD


@pytest.mark.parametrize("case", ["no key", "wrong key", "malformed key", "other source", "other profile",
                                  "other origin", "flipped byte", "truncated", "missing", "key file source",
                                  "command source"])
def test_the_shortcut_steps_aside_whenever_the_full_path_might_answer_otherwise(tmp_path: Path, case: str) -> None:
    store = encrypted_store(tmp_path)
    store.save("p", RECORD)
    raw, env, profile, name = data(store), dict(store.env), summary(), "p"
    if case == "no key":
        env = {}
    elif case == "wrong key":
        env = {"AUTHCLI_STORAGE_KEY": new_key_text().decode()}
    elif case == "malformed key":
        env = {"AUTHCLI_STORAGE_KEY": "c2hvcnQ="}
    elif case == "other source":
        profile = summary("passphrase")
    elif case == "other profile":
        name = "q"
    elif case == "other origin":
        profile = summary(origin="https://evil.example.com:443")
    elif case == "flipped byte":
        envelope = json.loads(raw)
        envelope["nonce"] = envelope["nonce"][::-1]
        raw = json.dumps(envelope).encode()
    elif case == "truncated":
        raw = raw[:50]
    elif case == "missing":
        raw = None  # type: ignore[assignment]
    else:
        profile = summary("file" if case == "key file source" else "command")
    assert record(profile, raw, name, env) is None


def test_the_shortcut_reads_a_passphrase_record_only_while_its_key_is_cached(tmp_path: Path) -> None:
    from authcli import kernelkeyring

    store = encrypted_store(tmp_path, "passphrase")
    store.save("p", RECORD)
    assert record(summary("passphrase"), data(store), "p", {}) is None  # not cached
    name = cache_name(store._header)
    try:
        kernelkeyring.store(name, store._key.value, 60)  # type: ignore[union-attr]
    except kernelkeyring.Unavailable:
        pytest.skip("no kernel keyring here")
    try:
        assert TokenRecord.from_json(json.dumps(record(summary("passphrase"), data(store), "p", {}))) == RECORD
        other = Key(os.urandom(32))
        store.use_key(other, wrap("another passphrase", other))
        store.save("p", RECORD)  # a new wrapped key: the cached one is not its key
        assert record(summary("passphrase"), data(store), "p", {}) is None
    finally:
        kernelkeyring.forget(name)
    assert KeySpec("passphrase").describe() == "the passphrase"
