"""https against the dev server with a self-signed certificate: verification is never off,
and the CA can come from --cacert, the profile's ca_bundle, REQUESTS_CA_BUNDLE or SSL_CERT_FILE."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_EMAIL, REMOTE, Cli, DevServer, one_error_line


def login(cli: Cli, server: DevServer, **env: str):  # type: ignore[no-untyped-def]
    return cli.run("login", "--api-url", server.url, "--email", DEMO_EMAIL, "--password-stdin", "--storage", "file",
                   input="alice-password\n", **env)


def test_untrusted_certificate_is_exit_5(cli: Cli, tls_server: DevServer) -> None:
    result = login(cli, tls_server)
    assert result.code == 5
    assert "TLS certificate verification failed for 127.0.0.1:" in one_error_line(result)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_from_the_environment(cli: Cli, tls_server: DevServer, certificate: tuple[Path, Path],
                                 variable: str) -> None:
    assert login(cli, tls_server, **{variable: str(certificate[0])}).code == 0
    assert cli.run("call", "/users/me", **{variable: str(certificate[0])}).code == 0
    assert cli.run("call", "/users/me").code == 5  # and without it, no


def test_ca_per_call_and_per_profile(cli: Cli, tls_server: DevServer, certificate: tuple[Path, Path]) -> None:
    cert = str(certificate[0])
    assert login(cli, tls_server, REQUESTS_CA_BUNDLE=cert).code == 0
    assert cli.run("call", "/users/me", "--cacert", cert).code == 0
    config = cli.home / "config.toml"
    config.write_text(config.read_text() + f'ca_bundle = "{cert}"\n')
    assert cli.run("call", "/users/me").code == 0
    assert cli.run("whoami", "--verify").code == 0


def test_missing_ca_file_is_a_usage_error(cli: Cli, tls_server: DevServer) -> None:
    result = login(cli, tls_server, REQUESTS_CA_BUNDLE="/no/such/ca.pem")
    assert result.code == 2
    assert "CA bundle /no/such/ca.pem does not exist" in one_error_line(result)


class ConnectProxy:
    """A minimal HTTPS proxy: answers CONNECT, then pipes bytes both ways; records each target
    and counts every connection. It resolves REMOTE to 127.0.0.1."""

    def __init__(self) -> None:
        import socket
        import threading

        self.targets: list[str] = []
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: Any) -> None:
        import socket
        import threading

        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b" ")[:2]
        if method != b"CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        self.targets.append(target.decode())
        host, port = target.decode().rsplit(":", 1)
        upstream = socket.create_connection(("127.0.0.1" if host == REMOTE else host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")

        def pipe(src: Any, dst: Any) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (src, dst):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    p = ConnectProxy()
    yield p
    p.close()


def test_https_proxy_and_no_proxy_are_honoured(cli: Cli, tls_server: DevServer, certificate: tuple[Path, Path],
                                               proxy: ConnectProxy) -> None:
    cert = str(certificate[0])
    port = tls_server.url.rsplit(":", 1)[1]
    remote = f"https://{REMOTE}:{port}"
    result = cli.run("login", "--api-url", remote, "--email", DEMO_EMAIL, "--password-stdin", "--storage", "file",
                     input="alice-password\n", REQUESTS_CA_BUNDLE=cert, HTTPS_PROXY=proxy.url)
    assert result.code == 0, result
    through = cli.run("call", "/users/me", "--cacert", cert, HTTPS_PROXY=proxy.url)
    assert through.code == 0, through
    assert proxy.targets == [f"{REMOTE}:{port}"] * 2
    around = cli.run("call", "/users/me", "--cacert", cert, HTTPS_PROXY=proxy.url, NO_PROXY=REMOTE)
    assert around.code != 0  # NO_PROXY: not through the proxy, and the name resolves nowhere else
    assert proxy.targets == [f"{REMOTE}:{port}"] * 2


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_loopback_apis_never_go_through_a_proxy(cli: Cli, start_server: Callable[..., DevServer],
                                                certificate: tuple[Path, Path], proxy: ConnectProxy, scheme: str) -> None:
    """Plain http is allowed on loopback only because the traffic never leaves the machine:
    neither the password nor the token may go to a proxy, whatever the environment says."""
    cert, key = certificate
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key)) if scheme == "https" else start_server()
    proxies = {name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy")}
    assert login(cli, server, REQUESTS_CA_BUNDLE=str(cert), **proxies).code == 0
    for args in (["call", "/users/me"], ["whoami", "--verify"], ["refresh"], ["logout"]):
        result = cli.run(*args, REQUESTS_CA_BUNDLE=str(cert), **proxies)
        assert result.code == 0, (args, result)
    assert proxy.connections == 0


def test_an_http_loopback_client_still_verifies_an_https_hop(tls_server: DevServer, certificate: tuple[Path, Path]) -> None:
    """For an http:// loopback API the CA bundle is loaded only when a hop goes to https, and
    that hop is verified like any other: an untrusted certificate fails. (With a CA bundle
    named, the client is built with it from the start, as before.)"""
    import httpx

    from authcli.config import Profile
    from authcli.http import make_client

    profile = Profile(name="p", api_url="http://127.0.0.1:1")
    with make_client(profile, {}, "http://127.0.0.1:1") as client, pytest.raises(httpx.ConnectError, match="CERTIFICATE"):
        client.get(tls_server.url + "/users/me")
    with make_client(profile, {"SSL_CERT_FILE": str(certificate[0])}, "http://127.0.0.1:1") as client:
        assert client.get(tls_server.url + "/users/me").status_code == 401  # reached: no token sent
