"""The valid-token path of `authcli token` stays light: a guard on imports, not a timing.
(Start-up times are measured by bench/startup.py and recorded in docs/benchmarks.md.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import STORAGES, Cli, DevServer
from tests.integration.test_refresh import expired_session

HEAVY = ("httpx", "rich", "jwt", "filelock", "typer", "keyring", "platformdirs", "cryptography", "secretstorage")
PROBE = (
    "import sys\n"
    "from authcli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    f"sys.stderr.write('MODULES:' + ','.join(m for m in {HEAVY!r} if m in sys.modules) + '\\n')\n"
    "raise SystemExit(rc)\n"
)


def loaded(cli: Cli, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=cli.env)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES:")][0]
    return [m for m in line[len("MODULES:"):].split(",") if m]


@pytest.mark.parametrize("storage", STORAGES)
def test_valid_token_path_imports_nothing_heavy(cli: Cli, server: DevServer, storage: str) -> None:
    """With the keyring, a valid token is read from the Secret Service through jeepney alone:
    not keyring, not secretstorage (and the cryptography it imports), after the first run."""
    assert cli.login(server.url, "--storage", storage).code == 0
    assert loaded(cli, "token") == []
    assert loaded(cli, "token", "--profile", "default") == []


def test_version_and_whoami_import_no_http_or_crypto(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    assert loaded(cli, "--version") == []
    assert "typer" not in loaded(cli, "call", "/users/me")
    assert {"httpx", "jwt", "cryptography", "keyring"}.isdisjoint(loaded(cli, "whoami"))


def test_the_guard_sees_the_refresh_path(cli: Cli, server: DevServer) -> None:
    """An expired token does load httpx and filelock: the probe above can fail."""
    expired_session(cli, server)
    assert {"httpx", "filelock"} <= set(loaded(cli, "token"))
    assert "typer" not in loaded(cli, "token")
