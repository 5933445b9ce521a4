"""login, whoami, logout and profiles through the real executable against the dev server."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest

from tests.conftest import DEMO_EMAIL, STORAGES, Cli, DevServer
from tests.platforms import POSIX_MODES, posix_only


@pytest.mark.parametrize("storage", STORAGES)
def test_login_whoami_token_logout(cli: Cli, server: DevServer, storage: str) -> None:
    result = cli.login(server.url, "--storage", storage)
    assert result.code == 0, result
    assert result.out == ""
    assert f"as {DEMO_EMAIL}" in result.err

    who = cli.run("whoami", "--json")
    assert who.code == 0, who
    info = json.loads(who.out)
    assert info["user"]["email"] == DEMO_EMAIL
    assert info["storage"] == storage
    assert info["refresh_token"] is True and info["access_token_valid"] is True
    assert set(info) == {"profile", "api_url", "issuer", "client_id", "user", "scopes", "id_token_claims",
                         "expires_at", "expires_in", "access_token_valid", "refresh_token", "renewable", "storage",
                         "storage_location", "dpop_jkt"}
    assert info["issuer"] is None and info["scopes"] is None and info["id_token_claims"] is None
    assert info["dpop_jkt"] is None

    token = cli.run("token")
    assert token.code == 0 and token.err == ""
    assert token.out.count("\n") == 1 and len(token.out) > 20
    assert token.out.strip() not in who.out  # whoami never shows a token

    if storage == "keyring":
        assert cli.keyring_entry() is not None
        assert not (cli.home / "state" / "tokens").exists()
    else:
        path = cli.home / "state" / "tokens" / "default.json"
        if POSIX_MODES:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert "protected only by file permissions" in result.err
    # The config file holds no secret.
    assert token.out.strip() not in (cli.home / "config.toml").read_text()

    out = cli.run("logout")
    assert out.code == 0, out
    assert server.stats()["logouts"] == 1
    assert cli.run("whoami").code == 4
    if storage == "keyring":
        assert cli.keyring_entry() is None
    again = cli.run("logout")
    assert again.code == 0 and "Not logged in" in again.err


def test_both_field_spellings_and_missing_lifetime(cli: Cli, start_server: Any) -> None:
    server = start_server("--token-style", "snake", "--no-expires-in", "--access-ttl", "120")
    assert cli.login(server.url, "--storage", "file").code == 0
    info = json.loads(cli.run("whoami", "--json").out)
    # No expires_in in the answer: the lifetime comes from the JWT's exp - iat.
    assert 100 <= info["expires_in"] <= 120


def test_whoami_human_output(cli: Cli, server: DevServer) -> None:
    cli.login(server.url, "--storage", "file")
    out = cli.run("whoami").out
    assert "Alice Example <alice@example.com>" in out
    assert "valid, expires" in out and "(in " in out


def test_whoami_verify_asks_the_api(cli: Cli, server: DevServer) -> None:
    cli.login(server.url, "--storage", "file")
    result = cli.run("whoami", "--verify", "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["verified"]["email"] == DEMO_EMAIL
    assert server.stats()["api_requests"] == 1


def test_profiles_list_use_remove(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    assert cli.login(server.url, "--storage", "file", "--profile", "staging").code == 0
    rows = json.loads(cli.run("profiles", "--json").out)
    assert [(r["name"], r["current"], r["session"], r["user"]) for r in rows] == [
        ("default", True, "active", DEMO_EMAIL),
        ("staging", False, "active", DEMO_EMAIL),
    ]
    table = cli.run("profiles").out
    assert "staging" in table and "PROFILE" in table

    assert cli.run("profiles", "use", "staging").code == 0
    assert json.loads(cli.run("whoami", "--json").out)["profile"] == "staging"
    assert json.loads(cli.run("whoami", "--json", "--profile", "default").out)["profile"] == "default"
    assert json.loads(cli.run("whoami", "--json", AUTHCLI_PROFILE="default").out)["profile"] == "default"

    removed = cli.run("profiles", "remove", "staging")
    assert removed.code == 0, removed
    assert not (cli.home / "state" / "tokens" / "staging.json").exists()
    assert [r["name"] for r in json.loads(cli.run("profiles", "--json").out)] == ["default"]
    assert server.stats()["logouts"] == 1


def test_logout_all(cli: Cli, server: DevServer) -> None:
    cli.login(server.url, "--storage", "file")
    cli.login(server.url, "--storage", "file", "--profile", "other")
    assert cli.run("logout", "--all").code == 0
    assert cli.run("whoami").code == 4
    assert cli.run("whoami", "--profile", "other").code == 4


def test_logout_when_server_is_down_still_deletes(cli: Cli, start_server: Any) -> None:
    server = start_server()
    cli.login(server.url, "--storage", "file")
    server.proc.kill()
    server.proc.wait()
    result = cli.run("logout")
    assert result.code == 0
    assert "warning: could not tell the server" in result.err
    assert cli.run("whoami").code == 4


def test_switching_storage_removes_the_old_copy(cli: Cli, server: DevServer) -> None:
    cli.login(server.url, "--storage", "file")
    assert (cli.home / "state" / "tokens" / "default.json").exists()
    if not cli.env.get("AUTHCLI_TEST_SECRET_SERVICE"):
        pytest.skip("needs the keyring to switch to")
    assert cli.login(server.url, "--storage", "keyring").code == 0
    assert not (cli.home / "state" / "tokens" / "default.json").exists()
    assert cli.keyring_entry() is not None


@posix_only("0700 directories, a 0600 file")
def test_dirs_are_private(cli: Cli, server: DevServer) -> None:
    cli.login(server.url, "--storage", "file")
    for directory in (cli.home, cli.home / "state", cli.home / "state" / "locks", cli.home / "state" / "tokens"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((cli.home / "config.toml").stat().st_mode) == 0o600


@pytest.mark.keyring
def test_keyring_backend_is_remembered_and_a_bad_memory_is_forgotten(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url).code == 0
    cache = cli.home / "state" / "keyring-backend"
    assert cache.read_text().strip() == "keyring.backends.SecretService.Keyring"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    cache.write_text("no.such.Backend\n")
    assert cli.run("token").code == 0  # detected again
    assert cache.read_text().strip() == "keyring.backends.SecretService.Keyring"


ITEMS = """
import json, sys, secretstorage
service, profile, what = sys.argv[1], sys.argv[2], sys.argv[3]
connection = secretstorage.dbus_init()
collection = secretstorage.get_default_collection(connection)
query = {"service": service, "username": profile}
if what == "count":
    print(len(list(collection.search_items(query))))
else:  # plant a second item: 'foreign' without keyring's application attribute, 'twin' with it
    own = next(iter(collection.search_items(query)))
    attributes = dict(query) if what == "foreign" else own.get_attributes()
    collection.create_item("planted", attributes, own.get_secret(), replace=False)
"""


def keyring_items(cli: Cli, what: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", ITEMS, cli.keyring_service, "default", what], env=cli.env,
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.keyring
@pytest.mark.parametrize(("plant", "token_code"), [
    ("foreign", 0),  # no application attribute: not authcli's item, never read
    ("twin", 6),  # every attribute authcli writes: reads refuse to choose
])
def test_two_keyring_items_never_outlive_logout(cli: Cli, server: DevServer, plant: str, token_code: int) -> None:
    assert cli.login(server.url, "--storage", "keyring").code == 0
    keyring_items(cli, plant)
    assert keyring_items(cli, "count") == "2"
    token = cli.run("token")
    assert token.code == token_code, token
    if token_code == 6:
        assert "two items in the OS keyring" in token.err and "authcli logout" in token.err
    assert cli.run("logout").code == 0
    assert keyring_items(cli, "count") == "0"
    gone = cli.run("token")
    assert gone.code == 4 and "not logged in" in gone.err, gone
