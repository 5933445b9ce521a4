"""Helpers more than one test module uses (fixtures live in conftest.py; the stand-ins for
tier-two command tests, a dict store, a fake flow and clock, in fakes.py). A test module imports
from here, never from another test module, so each test file can be read and run on its own.

conftest.py registers this module for pytest's assertion rewriting: an ``assert`` in a helper
explains itself as one in a test does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from authcli.config import Paths
from authcli.storagekey import Key, KeySpec, new_key_text, wrap
from authcli.stores.encrypted import EncryptedStore
from authcli.tokens import TokenRecord
from tests.conftest import SERVERS, Cli, DevServer, Result, post_form, start_json_server, start_resource_api, stop_process

# -- waiting, parallel processes, sessions that need a refresh --------------------------------

RUN_SLOW = os.environ.get("AUTHCLI_RUN_SLOW") == "1"
slow = pytest.mark.skipif(not RUN_SLOW, reason="slow: set AUTHCLI_RUN_SLOW=1 (CI does)")


def wait_for(condition: Callable[[], bool], what: str, limit: float = 30, poll: float = 0.05) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(poll)


def expired_session(cli: Cli, server: DevServer, storage: str = "file") -> None:
    """Log in with a one-second access token, then let it expire; later tokens live 300 s."""
    server.configure(access_ttl=1)
    assert cli.login(server.url, "--storage", storage).code == 0
    server.configure(access_ttl=300)
    time.sleep(1.2)


def parallel(cli: Cli, n: int, *args: str, **env: str) -> list[Result]:
    procs = [cli.popen(*args, **env) for _ in range(n)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append(Result(proc.returncode, out, err))
    return results


def assert_one_refresh(cli: Cli, server: DevServer, results: list[Result]) -> None:
    failures = [r for r in results if r.code != 0]
    assert not failures, failures[:3]
    tokens = {r.out for r in results}
    assert len(tokens) == 1, f"{len(tokens)} different tokens"
    stats = server.stats()
    assert stats["refreshes"] == 1, stats
    assert stats["reuse_detections"] == 0, stats
    # The token they all printed is the stored one, and the API accepts it.
    assert cli.run("token").out in tokens
    assert cli.run("whoami", "--verify").code == 0


def token_requests(server: DevServer) -> list[dict[str, Any]]:
    """The dev server's record of every token request, in order, without its tokens."""
    return server._call("/_token_requests")  # type: ignore[no-any-return]


# -- root ----------------------------------------------------------------------------------

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
REQUIRE_ROOT = os.environ.get("AUTHCLI_REQUIRE_ROOT") == "1"


def needs_root(what: str) -> None:
    if not IS_ROOT:
        if REQUIRE_ROOT:
            pytest.fail(f"AUTHCLI_REQUIRE_ROOT=1 but not root: cannot {what}")
        pytest.skip(f"needs root to {what} (CI runs as root)")


# -- authcli proxy and exec ------------------------------------------------------------------

@dataclass
class Proxy:
    url: str
    secret: str
    proc: subprocess.Popen[str]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.secret}"}, **kwargs)  # type: ignore[arg-type]

    def stop(self, signum: int = signal.SIGTERM) -> Result:
        self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=30)
        return Result(self.proc.returncode, out, err)


def start_proxy(cli: Cli, *args: str, **env: str) -> Proxy:
    proc = cli.popen("proxy", *args, **env)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url:
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"proxy did not start: {err}")
    secret = "" if "--secret-file" in args else proc.stdout.readline().strip()
    return Proxy(url, secret, proc)


# A program for `authcli exec` that asks the API who it is through the variables exec sets.
PROXIED = (
    "import os, urllib.request as u\n"
    "req = u.Request(os.environ['AUTHCLI_API_URL'] + '/users/me', "
    "headers={'Authorization': 'Bearer ' + os.environ['AUTHCLI_API_TOKEN']})\n"
    "print(u.urlopen(req).read().decode())\n"
)


# -- signals for `authcli exec`'s program (test_exec_signals.py, test_exec_pid1.py) ------------

# PROGRAM counts each signal of ISSUE_18 it receives in a file; the real-time signal END ends it
# with status EXIT (the kernel delivers standard signals first, so a second copy would be counted).
END = getattr(signal, "SIGRTMIN", 34) + 2
EXIT = 23
ISSUE_18 = ["HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "WINCH", "ALRM", "CONT", "TSTP"]

# argv: counts file, then "stop" to stop on SIGTSTP (after counting it) as a shell's job would.
# With "read", it first reads a line from the terminal and records it.
PROGRAM = f"""
import json, os, signal, sys, time
path, mode = sys.argv[1], sys.argv[2]
counts = {{}}
saves = iter(range(1 << 30))
def save():  # a handler may run inside another's save: each writes its own file
    tmp = f"{{path}}.{{next(saves)}}"
    with open(tmp, "w") as f:
        json.dump(counts, f)
    os.replace(tmp, path)
def count(signum, frame):
    name = signal.Signals(signum).name.removeprefix("SIG") if signum != {END} else "END"
    counts[name] = counts.get(name, 0) + 1
    save()
    if signum == signal.SIGTSTP and mode == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
for name in {ISSUE_18!r}:
    signal.signal(getattr(signal, "SIG" + name), count)
signal.signal({END}, count)
counts["pid"] = os.getpid()
save()
if mode == "read":
    counts["line"] = sys.stdin.readline().strip()
    save()
while "END" not in counts:
    time.sleep(0.01)
sys.exit({EXIT})
"""


class Counts:
    """What PROGRAM has counted so far, in its counts file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, int]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def wait(self, name: str) -> None:
        wait_for(lambda: name in self.read(), f"the program to receive {name}", limit=60, poll=0.01)

    def received(self) -> dict[str, int]:
        return {name: n for name, n in self.read().items() if name not in ("pid", "line", "END")}


# -- what a command imports ------------------------------------------------------------------

HEAVY = ("httpx", "rich", "jwt", "filelock", "typer", "keyring", "platformdirs", "cryptography", "secretstorage",
         "tomllib")
PROBE = (
    "import sys\n"
    "from authcli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    f"sys.stderr.write('MODULES:' + ','.join(m for m in {HEAVY!r} if m in sys.modules) + '\\n')\n"
    "raise SystemExit(rc)\n"
)


def loaded(cli: Cli, *args: str) -> list[str]:
    """The HEAVY modules `authcli ARGS` imported."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=cli.env)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES:")][0]
    return [m for m in line[len("MODULES:"):].split(",") if m]


# -- stores ----------------------------------------------------------------------------------

ORIGIN = "https://api.example.com:443"
RECORD = TokenRecord("access-1", "refresh-1", 2000.0, 1000.0, ORIGIN)
KEY_TEXT = new_key_text().decode()


def encrypted_store(root: Path, source: str = "env", key_text: str = KEY_TEXT) -> EncryptedStore:
    """An encrypted store under ``root``; a passphrase store as login leaves it (key in hand)."""
    paths = Paths(config_dir=root, state_dir=root / "state", scope=str(root))
    store = EncryptedStore(paths, KeySpec(source), ORIGIN, {"AUTHCLI_STORAGE_KEY": key_text})
    if source == "passphrase":
        key = Key(os.urandom(32))
        store.use_key(key, wrap("correct horse", key))
    return store


# -- npm oidc-provider (tests/servers/oidc) ----------------------------------------------------

OIDC = SERVERS / "oidc"
REQUIRE_OIDC = os.environ.get("AUTHCLI_REQUIRE_OIDC") == "1"
USER_SCOPES = "openid offline_access email profile"


@dataclass
class Provider:
    url: str
    clients: dict[str, dict[str, Any]]
    api: str  # the protected API's base URL

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.load(response)

    def stats(self) -> dict[str, int]:
        return self.get("/_stats")  # type: ignore[no-any-return]

    def ttl(self, **seconds: int) -> None:
        self.get("/_admin/ttl?" + urllib.parse.urlencode(seconds))

    def token_request(self, **form: str) -> tuple[int, dict[str, Any]]:
        return post_form(self.url + "/token", **form)


@contextmanager
def running_provider(tmp_path: Path, *flags: str) -> Iterator[Provider]:
    """oidc-provider and the introspecting resource API, each given ``flags``
    (--require-dpop-nonce)."""
    node = shutil.which("node")
    if node is None or not (OIDC / "node_modules" / "oidc-provider").is_dir():
        reason = "needs Node.js and `npm ci` in tests/servers/oidc (python3 dev.py test does it when npm exists)"
        if REQUIRE_OIDC:
            pytest.fail(f"AUTHCLI_REQUIRE_OIDC=1 but this {reason}")
        pytest.skip(reason)
    provider, info = start_json_server([node, str(OIDC / "server.mjs"), *flags], OIDC)
    api_client = info["clients"]["api"]
    api, api_url = start_resource_api(info["url"] + "/token/introspection", api_client["client_id"],
                                      api_client["client_secret"], tmp_path, *flags)
    try:
        yield Provider(info["url"], info["clients"], api_url)
    finally:
        stop_process(api)
        stop_process(provider)


def login_args(op: Provider, client: str, flow: str, *extra: str) -> list[str]:
    return ["login", "--issuer", op.url, "--client-id", op.clients[client]["client_id"], "--flow", flow,
            "--api-url", op.api, "--storage", "file", *extra]


def prompt_url(proc: subprocess.Popen[str], marker: str) -> str:
    """The URL authcli shows on stderr after ``marker``."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert marker in line, line
    return line.split(marker, 1)[1].split()[0]


def approve_device(url: str, user: str = "alice") -> None:
    from tests.servers.browser import Browser

    browser = Browser()
    browser.open(url)
    browser.submit()  # the page that posts the code on load
    browser.submit()  # "Continue": the code is right
    browser.submit(login=user, password="any")  # devInteractions accept any password
    page = browser.submit()  # consent
    assert "Sign-in Success" in page, page[-500:]


def start_browser_login(cli: Cli, op: Provider, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = cli.popen(*login_args(op, "browser", "browser", "--scope", USER_SCOPES, "--no-browser", *extra))
    return proc, prompt_url(proc, "Open this URL to sign in: ")


class Documents(BaseHTTPRequestHandler):
    """Serves /<name>/.well-known/openid-configuration from DOCUMENTS."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.split("/")[1]
        doc = DOCUMENTS.get(name)
        body = json.dumps(doc).encode()
        self.send_response(200 if doc is not None and self.path.endswith("/openid-configuration") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# Discovery documents of providers that lack something; a test may add its own.
DOCUMENTS: dict[str, Any] = {
    "no-token-endpoint": {"issuer": "x", "authorization_endpoint": "http://127.0.0.1:9/auth"},
    "token-endpoint-only": {"issuer": "x", "token_endpoint": "http://127.0.0.1:9/token"},
}
