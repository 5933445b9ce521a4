"""Shared fixtures: the real authcli executable, the real dev server, isolated config dirs.

Keyring safety: subprocesses only ever see a real keyring inside the private D-Bus
session that scripts/with-secret-service.sh sets up (AUTHCLI_TEST_SECRET_SERVICE=1).
Everywhere else they get keyring's always-failing backend, so no test can touch a
developer's own keyring.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Helpers shared by test modules (tests/helpers.py) explain a failed assert as a test does.
pytest.register_assert_rewrite("tests.helpers")

AUTHCLI = str(Path(sys.executable).parent / "authcli")
IN_SECRET_SERVICE = os.environ.get("AUTHCLI_TEST_SECRET_SERVICE") == "1"
REQUIRE_KEYRING = os.environ.get("AUTHCLI_REQUIRE_KEYRING") == "1"
FAIL_BACKEND = "keyring.backends.fail.Keyring"

STORAGES = ["file", pytest.param("keyring", marks=pytest.mark.keyring)]
DEMO_EMAIL = "alice@example.com"
DEMO_PASSWORD = "alice-password"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("keyring") and not IN_SECRET_SERVICE:
        reason = "needs a real Secret Service: run `python3 dev.py test` on a machine with gnome-keyring and dbus"
        if REQUIRE_KEYRING:
            pytest.fail(f"AUTHCLI_REQUIRE_KEYRING=1 but {reason}")
        pytest.skip(reason)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[:300]!r}, err={self.err[:500]!r})"


@dataclass
class Cli:
    """Runs the installed authcli as a user would, with its own config dir and keyring service."""

    env: dict[str, str]
    home: Path

    def harness(self, env: dict[str, str]) -> dict[str, str]:
        """``env``; where it sets a test switch (AUTHCLI_TEST_*), the config dir is first marked
        as the harness's own, without which authcli ignores every switch (testswitch.py)."""
        if any(k.startswith("AUTHCLI_TEST_") and k != "AUTHCLI_TEST_SECRET_SERVICE" for k in env):
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.home / "TEST-HARNESS").touch(mode=0o600)
        return env

    def run(self, *args: str, input: str | None = None, timeout: float = 120, **env: str) -> Result:
        proc = subprocess.run(
            [AUTHCLI, *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.harness({**self.env, **env}),
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [AUTHCLI, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.harness({**self.env, **env}),
        )

    def login(self, url: str, *extra: str, password: str = DEMO_PASSWORD) -> Result:
        return self.run("login", "--api-url", url, "--email", DEMO_EMAIL, "--password-stdin", *extra,
                        input=password + "\n")

    def snapshot(self) -> dict[str, bytes]:
        """Every file authcli keeps on disk, for 'nothing else changed' assertions; not lock
        files, nor the summary (shortcut.SUMMARY), a cache of config.toml any command may bring
        up to date."""
        from authcli.shortcut import SUMMARY

        return {
            str(p.relative_to(self.home)): p.read_bytes()
            for p in sorted(self.home.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock") and p.name != SUMMARY
        }

    @property
    def keyring_service(self) -> str:
        """The service authcli's entries have: AUTHCLI_KEYRING_SERVICE scoped by the config dir."""
        return f"{self.env['AUTHCLI_KEYRING_SERVICE']}@{os.path.realpath(self.home)}"

    def keyring_entry(self, profile: str = "default") -> str | None:
        """What the real keyring holds for the profile (only inside the private session)."""
        code = (
            "import keyring,sys; v=keyring.get_password(sys.argv[1], sys.argv[2]); "
            "print('' if v is None else v, end='')"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, self.keyring_service, profile],
            capture_output=True, text=True, env=self.env, check=True,
        )
        return proc.stdout or None

    def set_keyring_entry(self, value: str, profile: str = "default") -> None:
        code = "import keyring,sys; keyring.set_password(sys.argv[1], sys.argv[2], sys.argv[3])"
        subprocess.run(
            [sys.executable, "-c", code, self.keyring_service, profile, value],
            env=self.env, check=True,
        )


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCLI_") or k == "AUTHCLI_TEST_SECRET_SERVICE"}
    for name in ("NO_COLOR", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy",
                 "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)  # each test says what it wants
    env.update(
        AUTHCLI_CONFIG_DIR=str(home),
        AUTHCLI_KEYRING_SERVICE=f"authcli-test-{uuid.uuid4().hex[:12]}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if not IN_SECRET_SERVICE:
        env["PYTHON_KEYRING_BACKEND"] = FAIL_BACKEND
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "authcli-home"
    return Cli(env=base_env(home), home=home)


@dataclass
class DevServer:
    url: str
    proc: subprocess.Popen[str]
    extra: list[str] = field(default_factory=list)

    def _call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def stats(self) -> dict[str, int]:
        return self._call("/_stats")  # type: ignore[no-any-return]

    def seen(self) -> list[dict[str, str]]:
        return self._call("/_seen")  # type: ignore[no-any-return]

    def configure(self, **settings: Any) -> None:
        self._call("/_admin/config", settings)

    def fault(self, **fault: Any) -> None:
        self._call("/_admin/fault", fault)

    def clear_faults(self) -> None:
        self._call("/_admin/clear-faults", {})

    def revoke_access(self) -> None:
        self._call("/_admin/revoke-access", {})


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[DevServer] = []

    def start(*args: str) -> DevServer:
        env = base_env(tmp_path / "server-home")
        proc = subprocess.Popen([AUTHCLI, "dev-server", "--port", "0", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")), f"dev server did not start: {url!r}"
        server = DevServer(url=url, proc=proc)
        servers.append(server)
        return server

    yield start
    for server in servers:
        stop_process(server.proc)


def stop_process(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


SERVERS = Path(__file__).resolve().parent / "servers"


def start_json_server(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A test server that prints one JSON line about itself once listening (tests/servers/*)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"{args[1]} did not start"
    return proc, json.loads(line)


def start_resource_api(introspection_endpoint: str, client_id: str, client_secret: str,
                       cwd: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    """tests/servers/resource_api.py: a protected API that introspects every token at the provider."""
    proc, info = start_json_server([sys.executable, str(SERVERS / "resource_api.py"), "--introspection-endpoint",
                                    introspection_endpoint, "--client-id", client_id, "--client-secret",
                                    client_secret, *flags], cwd)
    return proc, info["url"]


@pytest.fixture
def server(start_server: Any) -> DevServer:
    return start_server()  # type: ignore[no-any-return]


@pytest.fixture
def logged_in(cli: Cli, server: DevServer) -> Cli:
    """``cli`` logged in to the dev server, tokens in the file store."""
    assert cli.login(server.url, "--storage", "file").code == 0
    return cli


# -- https (tests/integration/test_tls.py, test_helpers.py) --------------------------------

# A name only the test proxy knows (it connects to 127.0.0.1): an API that is not loopback as
# far as authcli can tell, so the proxy settings apply to it.
REMOTE = "api.example.test"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1 and REMOTE, and its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authcli test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName(REMOTE)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_server(start_server: Callable[..., DevServer], certificate: tuple[Path, Path]) -> DevServer:
    cert, key = certificate
    return start_server("--tls-cert", str(cert), "--tls-key", str(key))


def post_form(url: str, **form: str) -> tuple[int, dict[str, Any]]:
    """POST a form as an OAuth client would; the status and the JSON answer, errors included."""
    import urllib.error
    import urllib.parse

    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def one_error_line(result: Result) -> str:
    """The stderr of a failed command: exactly one 'authcli: ...' line, no traceback."""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.err!r}"
    assert lines[0].startswith("authcli: "), lines[0]
    assert "Traceback" not in result.err
    return lines[0]


# -- a real redis-server (fleet sessions, issue 13) ----------------------------------------

REQUIRE_REDIS = os.environ.get("AUTHCLI_REQUIRE_REDIS") == "1"


@dataclass
class Redis:
    port: int
    data: Path
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[Callable[..., Redis]]:
    if shutil.which("redis-server") is None:
        if REQUIRE_REDIS:
            pytest.fail("AUTHCLI_REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("needs redis-server (apt-get install redis-server; .ci/run does)")
    started: list[Redis] = []

    def start(*extra: str) -> Redis:
        data = tmp_path / f"redis-{len(started)}"
        data.mkdir()
        redis = Redis(free_port(), data, extra)
        redis.start()
        started.append(redis)
        return redis

    yield start
    for redis in started:
        redis.stop()
