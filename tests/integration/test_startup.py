"""The valid-token path of `authcli token` stays light: a guard on imports, not a timing.
(Start-up times are measured by bench/startup.py and recorded in docs/benchmarks.md.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import STORAGES, Cli, DevServer, base_env
from tests.helpers import expired_session, loaded
from tests.platforms import posix_only


@pytest.mark.parametrize("storage", STORAGES)
def test_valid_token_path_imports_nothing_heavy(cli: Cli, server: DevServer, storage: str) -> None:
    """With the keyring, a valid token is read from the Secret Service through jeepney alone:
    not keyring, not secretstorage (and the cryptography it imports), after the first run."""
    assert cli.login(server.url, "--storage", storage).code == 0
    assert loaded(cli, "token") in ([], ["tomllib"])  # the config login wrote, parsed once
    assert loaded(cli, "token") == []
    assert loaded(cli, "token", "--profile", "default") == []


def test_version_and_whoami_import_no_http_or_crypto(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    assert loaded(cli, "--version") == []
    assert "typer" not in loaded(cli, "call", "/users/me")
    assert {"httpx", "jwt", "cryptography", "keyring"}.isdisjoint(loaded(cli, "whoami"))


def test_commands_read_config_toml_from_the_summary_while_it_is_current(cli: Cli, server: DevServer) -> None:
    """tomllib's import is ~3 ms of every command: a config.toml the summary was made from is
    read back from it; a changed one is parsed again (the probe can fail), then not again."""
    assert cli.login(server.url, "--storage", "file").code == 0
    assert cli.run("whoami").code == 0  # the first parse of the config login wrote
    assert "tomllib" not in loaded(cli, "whoami")
    assert "tomllib" not in loaded(cli, "call", "/users/me")
    config = cli.home / "config.toml"
    config.write_text(config.read_text() + "# edited\n")
    assert "tomllib" in loaded(cli, "whoami")
    assert "tomllib" not in loaded(cli, "whoami")


def test_the_guard_sees_the_refresh_path(cli: Cli, server: DevServer) -> None:
    """An expired token does load httpx and filelock: the probe above can fail."""
    expired_session(cli, server)
    assert {"httpx", "filelock"} <= set(loaded(cli, "token"))
    assert "typer" not in loaded(cli, "token")


# -- shortcut.py: a plain `token` on the file store, answered without authcli's config or context ----

WHICH = (
    "import sys\n"
    "from authcli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    "sys.stderr.write('PATH:' + ('full' if 'authcli.context' in sys.modules else 'hot') + '\\n')\n"
    "raise SystemExit(rc)\n"
)


def which(cli: Cli, *args: str, **env: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    proc = subprocess.run([sys.executable, "-c", WHICH, *args], capture_output=True, text=True,
                          env={**cli.env, **env})
    path = [ln for ln in proc.stderr.splitlines() if ln.startswith("PATH:")][0][len("PATH:"):]
    return path, proc


def hot_ready(cli: Cli, server: DevServer, storage: str = "file") -> str:
    """Logged in on ``storage`` (keyring: the real Secret Service), and one full-path `token`
    has written the summary."""
    assert cli.login(server.url, "--storage", storage).code == 0
    assert which(cli, "token")[0] == "full"
    path, proc = which(cli, "token")
    assert path == "hot" and proc.returncode == 0, proc.stderr
    return proc.stdout


def group_writable(cli: Cli) -> None:
    (cli.home / "state").chmod(0o770)


def config_edited(cli: Cli) -> None:
    config = cli.home / "config.toml"
    config.write_text(config.read_text().replace("127.0.0.1", "localhost"))  # another origin


def record_for_another_origin(cli: Cli) -> None:
    import json

    path = cli.home / "state" / "tokens" / "default.json"
    record = json.loads(path.read_text())
    record["api_origin"] = "https://elsewhere.example:443"
    path.write_text(json.dumps(record))


def record_is_a_symlink(cli: Cli) -> None:
    path = cli.home / "state" / "tokens" / "default.json"
    target = cli.home / "elsewhere.json"
    target.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(target)


# What makes the hot path step aside: (what is done, extra arguments, environment, the full
# path's exit code). In every case the full path must answer as it would have without shortcut.py.
@pytest.mark.parametrize(("spoil", "args", "env", "code"), [
    (None, ["--min-ttl", "10"], {}, 0),
    (None, ["--format", "json"], {}, 0),
    (None, ["-p", "nosuch"], {}, 2),
    (None, [], {"AUTHCLI_STORAGE": "keyring"}, None),
    (None, [], {"AUTHCLI_PROFILE": "nosuch"}, 2),
    pytest.param(group_writable, [], {}, 6, marks=posix_only("group write bits")),
    (config_edited, [], {}, 4),  # the profile now points elsewhere: the full path refuses the old session
    (record_for_another_origin, [], {}, 4),
    pytest.param(record_is_a_symlink, [], {}, 6, marks=posix_only("symbolic links need a privilege on Windows")),
], ids=["min-ttl", "json", "unknown profile", "storage override", "AUTHCLI_PROFILE", "group-writable dir",
        "config edited", "record for another origin", "record is a symlink"])
def test_the_hot_path_steps_aside(cli: Cli, server: DevServer, spoil: object, args: list[str],
                                  env: dict[str, str], code: int | None) -> None:
    hot_ready(cli, server)
    if spoil is not None:
        spoil(cli)  # type: ignore[operator]
    path, proc = which(cli, "token", *args, **env)
    assert path == "full", proc.stderr
    if code is not None:
        assert proc.returncode == code, proc.stderr


def test_the_hot_path_answers_what_the_full_path_answers(cli: Cli, server: DevServer) -> None:
    token = hot_ready(cli, server)
    assert which(cli, "token", "-p", "default")[0] == "hot"
    assert which(cli, "token", "--profile=default")[1].stdout == token
    assert cli.run("token", "--min-ttl", "1").out == token  # the full path, same token


# -- the shortcut on the Secret Service (keyring storage, Linux) ------------------------------


def keyring_record_for_another_origin(cli: Cli) -> None:
    import json

    record = json.loads(cli.keyring_entry() or "{}")
    record["api_origin"] = "https://elsewhere.example:443"
    cli.set_keyring_entry(json.dumps(record))


def another_backend_remembered(cli: Cli) -> None:
    (cli.home / "state" / "keyring-backend").write_text("keyrings.alt.file.PlaintextKeyring\n")


def logged_out(cli: Cli) -> None:
    assert cli.run("logout").code == 0


@pytest.mark.keyring
def test_the_secret_service_token_is_the_shortcuts(cli: Cli, server: DevServer) -> None:
    """The shortcut reads the same item the Secret Service store reads, and nothing heavy."""
    token = hot_ready(cli, server, "keyring")
    assert token == cli.run("token", "--min-ttl", "1").out  # the full path, same token
    assert loaded(cli, "token") == []


@pytest.mark.keyring
@pytest.mark.parametrize(("spoil", "env", "code"), [
    (None, {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}, 6),  # keyring would not use it
    (another_backend_remembered, {}, 0),  # the first run found another backend: the full path looks again
    (keyring_record_for_another_origin, {}, 4),
    (logged_out, {}, 4),
], ids=["another backend named", "another backend remembered", "record for another origin", "logged out"])
def test_the_secret_service_shortcut_steps_aside(cli: Cli, server: DevServer, spoil: object, env: dict[str, str],
                                                 code: int) -> None:
    hot_ready(cli, server, "keyring")
    if spoil is not None:
        spoil(cli)  # type: ignore[operator]
    path, proc = which(cli, "token", **env)
    assert (path, proc.returncode) == ("full", code), proc.stderr


def test_an_expiring_token_is_left_to_the_engine(cli: Cli, server: DevServer) -> None:
    """Inside the refresh margin the hot path does not answer: the full path refreshes, once."""
    hot_ready(cli, server)
    import json
    import time

    path = cli.home / "state" / "tokens" / "default.json"
    record = json.loads(path.read_text())
    record["expires_at"] = time.time() + 20
    record["obtained_at"] = record["expires_at"] - 300  # a 300 s token: its margin is 30 s
    path.write_text(json.dumps(record))
    where, proc = which(cli, "token")
    assert where == "full" and proc.returncode == 0, proc.stderr
    assert server.stats()["refreshes"] == 1


@pytest.fixture
def coarse_fs(tmp_path: Path) -> Iterator[Path]:
    """A loop-mounted ext4 with 128-byte inodes: 1-second timestamps, and inode numbers that a
    rename-based rewrite hands out again (what ext3, HFS+ and many NFS exports do too)."""
    from tests.helpers import REQUIRE_ROOT, needs_root

    needs_root("loop-mount an ext4 file system")
    image, mount = tmp_path / "coarse.img", tmp_path / "coarse"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", str(image)], capture_output=True, text=True)
    mounted = made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(mount)],
                                                      capture_output=True, text=True).returncode == 0
    if not mounted:
        if REQUIRE_ROOT:
            pytest.fail(f"cannot make and loop-mount an ext4 file system: {made.stderr.strip()}")
        pytest.skip("cannot loop-mount an ext4 file system here")
    try:
        home = mount / "authcli"
        home.mkdir(mode=0o700)
        yield home
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_shortcut_never_answers_for_another_config(coarse_fs: Path, server: DevServer) -> None:
    """Two `profiles use` in one second on a coarse file system give config.toml its old
    (device, inode, size, mtime) back with another current profile; `authcli token` must still
    print the current profile's token, never the previous one's."""
    cli = Cli(base_env(coarse_fs), coarse_fs)
    config = coarse_fs / "config.toml"
    second = 1_900_000_000

    def use(name: str) -> None:
        assert cli.run("profiles", "use", name).code == 0
        os.utime(config, (second, second))  # all within one second, however slow this machine

    for name, email, password in (("aa", "alice@example.com", "alice-password"),
                                  ("bb", "bob@example.com", "bob-password")):
        done = cli.run("login", "--profile", name, "--api-url", server.url, "--email", email, "--password-stdin",
                       "--storage", "file", input=password + "\n")
        assert done.code == 0, done
    tokens = {name: cli.run("token", "--profile", name, "--min-ttl", "1").out for name in ("aa", "bb")}
    assert tokens["aa"] != tokens["bb"]
    use("aa")
    assert which(cli, "token")[0] == "full" and which(cli, "token")[0] == "hot"  # the summary is made
    summarised = config.stat().st_ino
    for _ in range(10):  # rewrites, until the file system hands config.toml its old inode again
        use("bb")
        if config.stat().st_ino == summarised:
            break
    assert config.stat().st_ino == summarised, "the file system never reused the inode: no test"
    path, proc = which(cli, "token")
    assert proc.stdout == tokens["bb"], f"printed {'aa' if proc.stdout == tokens['aa'] else '?'}'s token ({path})"
