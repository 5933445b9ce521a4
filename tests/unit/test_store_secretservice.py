"""The direct Secret Service store: the contract (tests/store_contract.py) against the real
Secret Service of the private test session; that it shares its items with the keyring store
both ways; and that it steps aside wherever keyring would not use the Secret Service."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from authcli.stores.keyring import KeyringStore
from authcli.stores.secretservice import SecretServiceStore
from authcli.stores.secretservice_wire import read
from tests.helpers import RECORD
from tests.store_contract import ROTATED, KeyringServiceContract


@pytest.mark.keyring
class TestSecretServiceStore(KeyringServiceContract):
    store_class = SecretServiceStore


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
