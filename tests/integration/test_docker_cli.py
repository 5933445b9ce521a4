"""docker-credential-authcli run by the real docker CLI, not by a test speaking its protocol.

`docker manifest inspect --insecure REGISTRY/REPO:TAG` talks to the registry from the CLI itself,
so it needs no Docker engine (none runs here: DOCKER_HOST points at a socket that does not
exist). For a registry named in config.json's credHelpers, docker runs the helper's `get` and
presents the answer as the registry's challenge asks: Basic, or Basic at the token service of a
Bearer challenge. The registry is a stub on loopback speaking plain HTTP (docker tries https
first, then http, for an --insecure registry) that records every Authorization header. Run with
docker 20.10.24 (Debian 12's docker.io, which .ci/run installs) and 28.2.2.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, DevServer

REQUIRE_DOCKER = os.environ.get("AUTHCLI_REQUIRE_DOCKER") == "1"
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
               "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest()},
    "layers": [],
}).encode()
REGISTRY_TOKEN = "registry-token-from-the-stub"
HELPER = Path(sys.executable).parent / "docker-credential-authcli"
# Between docker and the helper: logs each call (action, request, exit status), because docker
# itself says nothing when a helper fails to erase.
WRAPPER = """#!/bin/sh
request=$(cat)
printf '%s' "$request" | "{helper}" "$@"
status=$?
printf '%s\\t%s\\t%s\\n' "$1" "$request" "$status" >> "{log}"
exit $status
"""


class Registry(http.server.ThreadingHTTPServer):
    """A registry's /v2/ API as far as `docker manifest inspect` needs it."""

    def __init__(self, challenge: str) -> None:
        super().__init__(("127.0.0.1", 0), RegistryHandler)
        self.challenge = challenge  # "basic" or "bearer"
        self.authorizations: list[str] = []  # every Authorization header, in order

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def basic_credentials(self) -> set[str]:
        """user:secret of every Basic header docker sent (to the API or to the token service)."""
        return {base64.b64decode(value.split(" ", 1)[1]).decode()
                for value in self.authorizations if value.startswith("Basic ")}


class RegistryHandler(http.server.BaseHTTPRequestHandler):
    server: Registry
    # docker's first try is https: answer its TLS hello with a status line (not HTTP/0.9's bare
    # body), which Go reads as "an HTTP server", so docker falls back to http.
    default_request_version = "HTTP/1.0"

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization")
        if authorization:
            self.server.authorizations.append(authorization)
        if self.path.startswith("/token"):  # the Bearer challenge's realm
            if authorization and authorization.startswith("Basic "):
                self._answer(200, json.dumps({"token": REGISTRY_TOKEN}).encode(), "application/json")
            else:
                self._answer(401, b"{}", "application/json")
        elif self._authorized(authorization):
            if self.path.startswith("/v2/app/manifests/"):
                self._answer(200, MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
            else:
                self._answer(200, b"{}", "application/json")
        else:
            self._answer(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                         "application/json", challenge=True)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _authorized(self, authorization: str | None) -> bool:
        if self.server.challenge == "bearer":
            return authorization == f"Bearer {REGISTRY_TOKEN}"
        return bool(authorization and authorization.startswith("Basic "))

    def _answer(self, status: int, body: bytes, content_type: str, challenge: bool = False) -> None:
        self.send_response(status)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 200 and body is MANIFEST:
            self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())
        if challenge and self.server.challenge == "bearer":
            realm = f"http://{self.server.host_port}/token"
            self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="stub",scope="repository:app:pull"')
        elif challenge:
            self.send_header("WWW-Authenticate", 'Basic realm="stub"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def docker() -> str:
    found = shutil.which("docker")
    if found is None:
        reason = "the docker CLI is not installed (Debian: docker.io; no Docker engine is needed)"
        if REQUIRE_DOCKER:
            pytest.fail(f"AUTHCLI_REQUIRE_DOCKER=1 but {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture(params=["basic", "bearer"])
def registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    stub = Registry(request.param)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    yield stub
    stub.shutdown()
    stub.server_close()


def run_docker(docker: str, cli: Cli, tmp_path: Path, registry: str,
               *args: str) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, str, int]]]:
    """docker with a config.json that sends ``registry`` to authcli's helper, found on PATH as
    Docker finds every helper, with authcli's environment (the config dir); and the helper's calls."""
    config, bin_dir, log = tmp_path / "docker-config", tmp_path / "docker-bin", tmp_path / "helper-calls"
    config.mkdir(exist_ok=True)
    bin_dir.mkdir(exist_ok=True)
    (config / "config.json").write_text(json.dumps({"credHelpers": {registry: "authcli"}}))
    wrapper = bin_dir / "docker-credential-authcli"
    wrapper.write_text(WRAPPER.format(helper=HELPER, log=log))
    wrapper.chmod(0o755)
    env = {**cli.env, "DOCKER_CONFIG": str(config), "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
           "PATH": str(bin_dir) + os.pathsep + cli.env.get("PATH", os.defpath)}
    got = subprocess.run([docker, *args], capture_output=True, text=True, env=env, timeout=120)
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    calls = [(action, request, int(status)) for action, request, status in (line.split("\t") for line in lines)]
    return got, calls


def login_for_registry(cli: Cli, server: DevServer, registry: str, access_ttl: int = 300) -> None:
    """A session at the dev server for a profile whose `registry` is ``registry``."""
    server.configure(access_ttl=access_ttl)
    assert cli.login(server.url, "--storage", "file").code == 0
    server.configure(access_ttl=300)
    config = cli.home / "config.toml"
    config.write_text(config.read_text() + f'registry = "{registry}"\n')


def test_docker_presents_the_profiles_fresh_token(docker: str, cli: Cli, server: DevServer, registry: Registry,
                                                  tmp_path: Path) -> None:
    login_for_registry(cli, server, registry.host_port, access_ttl=1)
    time.sleep(1.2)  # expired: the helper's token comes through the engine's refresh
    got, calls = run_docker(docker, cli, tmp_path, registry.host_port,
                            "manifest", "inspect", "--insecure", f"{registry.host_port}/app:1")
    assert got.returncode == 0, got
    assert calls and set(calls) == {("get", registry.host_port, 0)}
    assert json.loads(got.stdout)["schemaVersion"] == 2
    token = cli.run("token").out.strip()
    assert registry.basic_credentials() == {f"alice@example.com:{token}"}
    assert server.stats()["refreshes"] == 1  # docker ran the helper more than once; one refresh


def test_docker_gets_nothing_for_another_registry(docker: str, cli: Cli, server: DevServer, registry: Registry,
                                                  tmp_path: Path) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0  # the API's origin, not the stub's
    got, calls = run_docker(docker, cli, tmp_path, registry.host_port,
                            "manifest", "inspect", "--insecure", f"{registry.host_port}/app:1")
    assert calls and set(calls) == {("get", registry.host_port, 1)}  # "credentials not found"
    assert got.returncode != 0, got  # docker went on without credentials, and the stub said 401
    assert registry.authorizations == []
    assert "authcli:" not in got.stdout + got.stderr


def test_docker_logout_leaves_the_session(docker: str, cli: Cli, server: DevServer, tmp_path: Path) -> None:
    login_for_registry(cli, server, "127.0.0.1:5000")  # docker logout does not reach the registry
    before = cli.snapshot()
    got, calls = run_docker(docker, cli, tmp_path, "127.0.0.1:5000", "logout", "127.0.0.1:5000")
    assert got.returncode == 0, got
    assert calls and set(calls) == {("erase", "127.0.0.1:5000", 0)}
    assert cli.snapshot() == before
