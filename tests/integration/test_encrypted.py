"""login --storage encrypted (issue 20) with the real executable, the dev server and no D-Bus.

Every test runs without a D-Bus session (the headless case: keyring's fail backend, as in
conftest, and DBUS_SESSION_BUS_ADDRESS unset). Passphrase tests run on a real pty, inside a
session keyring of their own (joined by name, so the commands of one test share it).
"""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import AUTHCLI, DEMO_EMAIL, DEMO_PASSWORD, Cli, DevServer, one_error_line
from tests.helpers import assert_one_refresh, parallel

KEY = base64.b64encode(os.urandom(32)).decode()
PASSPHRASE = "correct horse battery"


@pytest.fixture
def headless(cli: Cli) -> Cli:
    cli.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return cli


def key_file(tmp_path: Path, text: str = KEY, mode: int = 0o600) -> str:
    path = tmp_path / "authcli.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.write(fd, text.encode() + b"\n")
    os.close(fd)
    return str(path)


def key_script(tmp_path: Path, body: str) -> str:
    """A key command: a small program printing what ``body`` says (the key on stdout)."""
    path = tmp_path / f"key-{uuid.uuid4().hex[:6]}.py"
    path.write_text(f"import os, sys, time\n{body}\n")
    return f"{sys.executable} {path} --vault-token s3cr3t-arg"


# (source flags at login, env of every command)
SOURCES = {
    "env": ([], {"AUTHCLI_STORAGE_KEY": KEY}),
    "key-file": (["--key-file", "{file}"], {}),
    "new-key-file": (["--new-key-file", "{new}"], {}),
    "key-command": (["--key-command", "{command}"], {}),
}


def login_with(cli: Cli, server: DevServer, tmp_path: Path, source: str) -> dict[str, str]:
    flags, env = SOURCES[source]
    values = {"file": key_file(tmp_path) if source == "key-file" else "", "new": str(tmp_path / "new.key"),
              "command": key_script(tmp_path, f"sys.stdout.write({KEY!r} + '\\n')")}
    flags = [flag.format(**values) for flag in flags]
    result = cli.run("login", "--api-url", server.url, "--email", DEMO_EMAIL, "--password-stdin", "--storage",
                     "encrypted", *flags, input=DEMO_PASSWORD + "\n", **env)
    assert result.code == 0, result
    assert "encrypted storage, key from" in result.err
    return env


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_command_with_each_key_source_and_no_dbus(headless: Cli, server: DevServer, tmp_path: Path,
                                                        source: str) -> None:
    cli = headless
    env = login_with(cli, server, tmp_path, source)
    record = cli.home / "state" / "tokens" / "default.enc"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert not (cli.home / "state" / "tokens" / "default.json").exists()
    token = cli.run("token", **env)
    assert token.code == 0 and token.out.strip(), token
    assert token.out.strip() not in record.read_text()
    whoami = cli.run("whoami", "--json", **env)
    assert whoami.code == 0 and json.loads(whoami.out)["storage"] == "encrypted", whoami
    assert cli.run("whoami", "--verify", **env).code == 0
    assert json.loads(cli.run("call", "/users/me", **env).out)["email"] == DEMO_EMAIL
    assert cli.run("refresh", **env).code == 0
    assert server.stats()["refreshes"] == 1
    assert cli.run("token", **env).out != token.out  # the rotated record was written and is read back
    assert "active" in cli.run("profiles", **env).out
    ran = cli.run("exec", "--", sys.executable, "-c", "import os; print(os.environ['AUTHCLI_API_URL'])", **env)
    assert ran.code == 0 and ran.out.startswith("http://127.0.0.1:"), ran
    assert cli.run("logout", **env).code == 0
    assert not record.exists()
    assert cli.run("token", **env).code == 4
    if source == "new-key-file":
        assert stat.S_IMODE((tmp_path / "new.key").stat().st_mode) == 0o600


def test_fifty_processes_after_expiry_refresh_once(headless: Cli, server: DevServer) -> None:
    server.configure(access_ttl=1, refresh_delay=0.5)
    assert headless.login(server.url, "--storage", "encrypted").code == 2  # no key source: refused
    headless.env["AUTHCLI_STORAGE_KEY"] = KEY
    assert headless.login(server.url, "--storage", "encrypted").code == 0
    server.configure(access_ttl=300)
    time.sleep(1.2)
    assert_one_refresh(headless, server, parallel(headless, 50, "token"))


# -- the key missing, wrong or failing: exit 6, one line, nothing changed ---------------------

def test_no_key_source_in_a_script_is_refused_listing_the_choices(headless: Cli, server: DevServer) -> None:
    result = headless.login(server.url, "--storage", "encrypted")
    assert result.code == 2
    line = one_error_line(result)
    for choice in ("AUTHCLI_STORAGE_KEY", "--key-file", "--new-key-file", "--key-command"):
        assert choice in line
    assert not (headless.home / "config.toml").exists()


@pytest.mark.parametrize(("tamper", "message"), [
    ("flipped byte", "cannot be decrypted with AUTHCLI_STORAGE_KEY"),
    ("truncated", "cannot be decrypted with AUTHCLI_STORAGE_KEY"),
    ("copied to another profile", "cannot be decrypted with AUTHCLI_STORAGE_KEY"),
    ("wrong key", "cannot be decrypted with AUTHCLI_STORAGE_KEY"),
    ("no key", "AUTHCLI_STORAGE_KEY is not set"),
])
def test_tampering_and_wrong_keys_are_exit_6_and_nothing_is_overwritten(headless: Cli, server: DevServer,
                                                                         tamper: str, message: str) -> None:
    cli = headless
    cli.env["AUTHCLI_STORAGE_KEY"] = KEY
    server.configure(access_ttl=1)
    assert cli.login(server.url, "--storage", "encrypted").code == 0
    assert cli.login(server.url, "--storage", "encrypted", "-p", "other").code == 0
    time.sleep(1.2)  # expired: every command below would refresh if it could read the record
    tokens = cli.home / "state" / "tokens"
    profile, env = "default", {}
    target = tokens / "default.enc"
    if tamper == "flipped byte":
        data = bytearray(target.read_bytes())
        envelope = json.loads(data)
        raw = bytearray(base64.b64decode(envelope["ciphertext"]))
        raw[5] ^= 0x80
        envelope["ciphertext"] = base64.b64encode(bytes(raw)).decode()
        target.write_text(json.dumps(envelope))
    elif tamper == "truncated":
        target.write_bytes(target.read_bytes()[:100])
    elif tamper == "copied to another profile":
        target.write_bytes((tokens / "other.enc").read_bytes())
    elif tamper == "wrong key":
        env = {"AUTHCLI_STORAGE_KEY": base64.b64encode(os.urandom(32)).decode()}
    else:
        env = {"AUTHCLI_STORAGE_KEY": ""}
    before = cli.snapshot()
    for command in (["token"], ["refresh"], ["whoami"], ["call", "/users/me"], ["logout"]):
        result = cli.run(*command, "-p", profile, **env)
        assert result.code == 6, (command, result)
        line = one_error_line(result)
        assert message in line and "not logged in" not in line, line
        assert KEY not in line and (not env.get("AUTHCLI_STORAGE_KEY") or env["AUTHCLI_STORAGE_KEY"] not in line)
    assert cli.snapshot() == before
    assert server.stats()["refreshes"] == 0
    if tamper in ("wrong key", "no key"):
        assert cli.run("token").code == 0  # left for the right key


@pytest.mark.parametrize(("body", "message"), [
    ("sys.exit(3)", "the key command 'python"),
    ("time.sleep(60)", "gave no key within 1 s"),
    ("print('not a key')", "is not a storage key"),
    ("os.fork() or time.sleep(60); print('x')", "gave no key within 1 s"),  # a child keeps the pipe open
])
def test_a_failing_or_slow_key_command_is_one_line_exit_6(headless: Cli, server: DevServer, tmp_path: Path,
                                                          body: str, message: str) -> None:
    good = key_script(tmp_path, f"sys.stdout.write({KEY!r})")
    assert headless.login(server.url, "--storage", "encrypted", "--key-command", good).code == 0
    config = (headless.home / "config.toml").read_text()
    assert "key_command" in config and KEY not in config
    bad = key_script(tmp_path, body)
    text = config.replace(good.split()[1], bad.split()[1])
    (headless.home / "config.toml").write_text(text)
    started = time.monotonic()
    result = headless.run("token", AUTHCLI_KEY_COMMAND_TIMEOUT="1", timeout=30)
    assert result.code == 6, result
    line = one_error_line(result)
    assert message in line and "s3cr3t-arg" not in line, line
    assert time.monotonic() - started < 25  # never hangs


@pytest.mark.parametrize(("mode", "message"), [(0o644, "chmod 600"), (0o620, "chmod 600")])
def test_a_key_file_others_can_read_is_refused(headless: Cli, server: DevServer, tmp_path: Path, mode: int,
                                               message: str) -> None:
    path = key_file(tmp_path, mode=mode)
    os.chmod(path, mode)
    result = headless.login(server.url, "--storage", "encrypted", "--key-file", path)
    assert result.code == 6
    assert message in one_error_line(result)


def test_new_key_file_never_replaces_an_existing_file(headless: Cli, server: DevServer, tmp_path: Path) -> None:
    path = key_file(tmp_path)
    result = headless.login(server.url, "--storage", "encrypted", "--new-key-file", path)
    assert result.code == 2 and "exists" in one_error_line(result)
    assert Path(path).read_text().strip() == KEY


# -- secrets never shown -----------------------------------------------------------------------

def test_the_key_is_nowhere_but_where_the_user_put_it(headless: Cli, server: DevServer, tmp_path: Path) -> None:
    cli = headless
    cli.env["AUTHCLI_STORAGE_KEY"] = KEY
    assert cli.login(server.url, "--storage", "encrypted").code == 0
    script = ("import glob,os,sys\n"
              "argv=b''.join(open(p,'rb').read() for p in glob.glob('/proc/[0-9]*/cmdline') if os.path.exists(p))\n"
              f"sys.stdout.write(str({KEY[::-1]!r}[::-1].encode() in argv))")  # the key itself is not on its argv
    ran = cli.run("exec", "--", sys.executable, "-c", script)
    assert ran.out == "False", ran
    verbose = cli.run("call", "--verbose", "/users/me")
    assert verbose.code == 0 and KEY not in verbose.err + verbose.out
    for path in cli.home.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    raw = base64.b64decode(KEY)
    assert raw not in (cli.home / "state" / "tokens" / "default.enc").read_bytes()


@pytest.mark.parametrize("flags", [[], ["--token"]])
def test_exec_child_never_gets_authclis_secrets(headless: Cli, server: DevServer, flags: list[str]) -> None:
    """The storage key, a client secret and a Redis password in authcli's environment stay
    there (the proxy beside the program has them; the program does not)."""
    headless.env["AUTHCLI_STORAGE_KEY"] = KEY
    assert headless.login(server.url, "--storage", "encrypted").code == 0
    secrets = {"AUTHCLI_CLIENT_SECRET": "client-secret-value", "AUTHCLI_REDIS_PASSWORD": "redis-password-value"}
    ran = headless.run("exec", *flags, "--", sys.executable, "-c",
                       "import os; print('\\n'.join(os.environ.values()))", **secrets)
    assert ran.code == 0, ran
    assert not {KEY, *secrets.values()} & set(ran.out.splitlines()), flags


# -- a passphrase on a real terminal -----------------------------------------------------------

SECCOMP = """
import errno, os, sys, seccomp
f = seccomp.SyscallFilter(seccomp.ALLOW)
for call in ("add_key", "keyctl", "request_key"):
    f.add_rule(seccomp.ERRNO(errno.EPERM), call)
f.load()
os.execv(sys.argv[1], sys.argv[1:])
"""
ANSWERS = {b"New passphrase for profile": PASSPHRASE, b"Again: ": PASSPHRASE, b"Passphrase for profile": PASSPHRASE,
           b"Password: ": DEMO_PASSWORD}


class Terminal:
    """authcli on a real pty, answering its prompts; counts the passphrase prompts."""

    def __init__(self, cli: Cli, wrapper: list[str]) -> None:
        self.cli, self.wrapper = cli, wrapper

    def run(self, *args: str, tty: bool = True, **env: str) -> tuple[int, str, int]:
        argv = [*self.wrapper, AUTHCLI, *args]
        full = self.cli.harness({**self.cli.env, **env})
        if not tty:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=full,
                                  timeout=60)
            return proc.returncode, proc.stderr, 0
        master, slave = pty.openpty()
        proc2 = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=full, start_new_session=True)
        os.close(slave)
        shown, pending = b"", b""
        deadline = time.monotonic() + 60
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                proc2.kill()
                raise AssertionError(f"authcli hung on the terminal; it showed {shown!r}")
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            shown += data
            pending += data
            for prompt, answer in ANSWERS.items():
                if prompt in pending and pending.rstrip().endswith(b":"):
                    os.write(master, answer.encode() + b"\n")
                    pending = b""
                    break
        os.close(master)
        text = shown.decode("utf-8", "replace")
        return proc2.wait(timeout=30), text, text.count("Passphrase for profile")


@pytest.fixture
def session_keyring() -> None:
    """A new session keyring for this test (the pytest process joins an anonymous one, which its
    children inherit, as the commands of one login session share theirs)."""
    import ctypes
    import platform

    keyctl = {"x86_64": 250, "aarch64": 219}.get(platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    if keyctl is None or libc.syscall(keyctl, 1, None) < 0:  # KEYCTL_JOIN_SESSION_KEYRING
        pytest.skip("no kernel keyring here")


def test_a_passphrase_session_asks_once_then_not_until_the_cache_times_out(headless: Cli, server: DevServer,
                                                                          session_keyring: None) -> None:
    timeout = 6
    term = Terminal(headless, [])
    server.configure(access_ttl=300)
    started = time.monotonic()
    code, shown, _ = term.run("login", "--api-url", server.url, "--email", DEMO_EMAIL, "--storage", "encrypted",
                              "--passphrase", AUTHCLI_KEY_CACHE_TIMEOUT=str(timeout))
    assert code == 0, shown
    assert shown.count("New passphrase") == 1 and PASSPHRASE not in shown
    config = (headless.home / "config.toml").read_text()
    assert 'storage_key = "passphrase"' in config and PASSPHRASE not in config
    results = [term.run("token") for _ in range(3)] + [term.run("whoami", tty=False)]
    if time.monotonic() - started > timeout - 0.5:
        pytest.skip("the machine was too slow to run the commands within the cache's lifetime")
    assert [(code, prompts) for code, _, prompts in results] == [(0, 0)] * 4, results
    time.sleep(max(0.0, timeout + 1 - (time.monotonic() - started)))
    code, shown, prompts = term.run("token", tty=False)  # a script: never a prompt, never a hang
    assert code == 6 and prompts == 0
    assert "no terminal to ask for it" in shown and "AUTHCLI_STORAGE_KEY" in shown and "--key-command" in shown
    code, shown, prompts = term.run("token")
    assert (code, prompts) == (0, 1), shown
    assert term.run("token")[2] == 0  # cached again
    assert PASSPHRASE not in shown


def test_a_wrong_passphrase_is_asked_again_and_never_cached(headless: Cli, server: DevServer,
                                                            session_keyring: None) -> None:
    term = Terminal(headless, [])
    assert term.run("login", "--api-url", server.url, "--email", DEMO_EMAIL, "--storage", "encrypted",
                    "--passphrase", AUTHCLI_KEY_CACHE_TIMEOUT="1")[0] == 0
    time.sleep(2)
    ANSWERS[b"Passphrase for profile"] = "wrong passphrase"
    try:
        code, shown, prompts = term.run("token")
    finally:
        ANSWERS[b"Passphrase for profile"] = PASSPHRASE
    assert code == 6 and prompts == 3 and "wrong passphrase" in shown
    assert term.run("token", tty=False)[0] == 6  # nothing cached


def seccomp_wrapper() -> list[str]:
    python = "/usr/bin/python3"
    if subprocess.run([python, "-c", "import seccomp"], capture_output=True).returncode != 0:
        if os.environ.get("AUTHCLI_REQUIRE_SECCOMP") == "1":
            pytest.fail("AUTHCLI_REQUIRE_SECCOMP=1 but /usr/bin/python3 has no seccomp module (apt-get install "
                        "python3-seccomp; .ci/run does)")
        pytest.skip("needs python3-seccomp (apt-get install python3-seccomp)")
    return [python, "-c", SECCOMP]


def test_where_the_kernel_keyring_is_denied_a_terminal_is_asked_every_time(headless: Cli,
                                                                          server: DevServer) -> None:
    """Docker's default seccomp profile: add_key and keyctl fail with EPERM."""
    term = Terminal(headless, seccomp_wrapper())
    code, shown, _ = term.run("login", "--api-url", server.url, "--email", DEMO_EMAIL, "--storage", "encrypted",
                              "--passphrase")
    assert code == 0, shown
    assert shown.count("kernel keyring is not available here (add_key: EPERM") == 1, shown
    for _ in range(2):
        code, shown, prompts = term.run("token")
        assert (code, prompts) == (0, 1), shown
        assert "kernel keyring is not available" not in shown  # said once
    code, shown, prompts = term.run("token", tty=False)
    assert code == 6 and prompts == 0, shown
    line = shown.strip()
    assert line.startswith("authcli: ") and "\n" not in line
    assert "kernel keyring is not available here: keyctl search: EPERM" in line, line
    assert "AUTHCLI_STORAGE_KEY" in line and "--key-command" in line


# -- never a silent downgrade ------------------------------------------------------------------

KEYRINGS_ALT = "keyrings.alt==5.0.2"


@pytest.fixture(scope="session")
def keyrings_alt() -> str:
    """keyrings.alt installed into a throwaway directory (put on PYTHONPATH, where keyring's
    entry-point discovery finds it), kept under the temp dir between runs."""
    import tempfile

    target = Path(tempfile.gettempdir()) / f"authcli-test-{KEYRINGS_ALT.replace('==', '-')}"
    if not (target / "keyrings" / "alt").is_dir():
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                            KEYRINGS_ALT], check=True, capture_output=True, timeout=180)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            if os.environ.get("AUTHCLI_REQUIRE_KEYRINGS_ALT") == "1":
                raise
            pytest.skip(f"cannot install {KEYRINGS_ALT}: {exc}")
    return str(target)


@pytest.mark.parametrize("command", [["login"], ["token"]])
def test_keyrings_alt_is_no_keyring_and_nothing_is_written_or_asked(headless: Cli, server: DevServer,
                                                                   keyrings_alt: str, tmp_path: Path,
                                                                   command: list[str]) -> None:
    """keyring would silently pick keyrings.alt's PlaintextKeyring here (no Secret Service)."""
    home = tmp_path / "user-home"
    home.mkdir()
    env = {k: v for k, v in headless.env.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.update(PYTHONPATH=keyrings_alt, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"))
    probe = subprocess.run([sys.executable, "-c", "import keyring; print(keyring.get_keyring())"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert "keyrings.alt" in probe.stdout, probe  # the situation this test is about
    if command == ["token"]:
        assert headless.login(server.url, "--storage", "file").code == 0
        config = headless.home / "config.toml"
        config.write_text(config.read_text().replace('storage = "file"', 'storage = "keyring"'))
        args = ["token"]
    else:
        args = ["login", "--api-url", server.url, "--email", DEMO_EMAIL, "--password-stdin"]
    proc = subprocess.run([AUTHCLI, *args], input=DEMO_PASSWORD + "\n", capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 6, proc
    line = one_error_line(type("R", (), {"err": proc.stderr})())  # type: ignore[arg-type]
    assert "keyring would use keyrings.alt.file.PlaintextKeyring" in line
    for choice in ("(1) encrypted: authcli login --storage encrypted", "(2) a plain file", "(3) the OS keyring"):
        assert choice in line
    assert [p for p in home.rglob("*") if p.is_file()] == []  # no keyring_pass.cfg


def test_token_of_an_encrypted_profile_takes_the_shortcut(headless: Cli, server: DevServer) -> None:
    """The speed goal (bench/startup.py's encrypted group) rests on this: no config, no encstore."""
    headless.env["AUTHCLI_STORAGE_KEY"] = KEY
    assert headless.login(server.url, "--storage", "encrypted").code == 0
    first = headless.run("token")  # the full path, which writes the shortcut's summary
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "authcli", "token"], capture_output=True,
                          text=True, env=headless.env, timeout=60)
    assert proc.returncode == 0 and proc.stdout == first.out
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "authcli.shortcutenc" in imported
    assert not imported & {"authcli.stores.encrypted", "authcli.config", "authcli.storagekey"}, sorted(imported)
