"""OAuth 2.0 and OpenID Connect against npm oidc-provider (OpenID Certified), a real
authorization server nobody on this project wrote (tests/servers/oidc/server.mjs): discovery,
the device, browser (code + PKCE) and client-credentials grants, rotating refresh tokens whose
reuse revokes the grant, revocation, introspection and userinfo.

Sign-ins go through oidc-provider's own login and consent pages, driven by a scripted browser
(tests/servers/browser.py). The protected API (tests/servers/resource_api.py) accepts a token
only when the provider's introspection endpoint says it is active.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import Cli, Result, one_error_line
from tests.helpers import (
    USER_SCOPES,
    Documents,
    Provider,
    approve_device,
    login_args,
    parallel,
    prompt_url,
    running_provider,
    start_browser_login,
)
from tests.servers.browser import Browser


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with running_provider(tmp_path) as provider:
        yield provider


# -- the device flow (RFC 8628) ---------------------------------------------------------------

def start_device_login(cli: Cli, op: Provider) -> tuple[subprocess.Popen[str], str]:
    proc = cli.popen(*login_args(op, "device", "device", "--scope", USER_SCOPES))
    prompt_url(proc, "To sign in, open ")
    return proc, prompt_url(proc, "(or open ").rstrip(")")


def device_login(cli: Cli, op: Provider) -> str:
    """Signs in as alice through the device flow; returns authcli's stderr."""
    proc, url = start_device_login(cli, op)
    approve_device(url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


def test_device_flow_then_call_whoami_and_userinfo(cli: Cli, op: Provider) -> None:
    said = device_login(cli, op)
    assert f"Logged in to {op.api} as alice@example.com (profile 'default', file storage)" in said  # the ID token's
    me = cli.run("call", "/me")
    assert me.code == 0, me
    assert json.loads(me.out)["sub"] == "alice"  # the API asked the provider about the token
    info = json.loads(cli.run("whoami", "--json").out)
    assert info["user"] == {"id": "alice", "email": "alice@example.com", "name": "Alice"}
    assert set(info["scopes"]) == set(USER_SCOPES.split())
    assert info["id_token_claims"]["iss"] == op.url and info["issuer"] == op.url
    assert info["refresh_token"] is True
    human = cli.run("whoami").out
    assert "User:     Alice <alice@example.com> (alice)" in human
    assert "ID token: (decoded for display, not verified)" in human and "  email:" in human
    verified = cli.run("whoami", "--verify", "--json")
    assert verified.code == 0, verified
    assert json.loads(verified.out)["verified"]["email"] == "alice@example.com"  # from the userinfo endpoint
    assert json.loads(verified.out)["id_token_verified"] is True  # signature, iss, aud, exp
    assert "ID token: verified (signature by the issuer's published key; iss, aud, exp)" in \
        cli.run("whoami", "--verify").out
    config = (cli.home / "config.toml").read_text()
    assert 'userinfo_endpoint = "' + op.url + '/me"' in config and 'jwks_uri = "' + op.url + '/jwks"' in config


def tamper_id_token(cli: Cli, change: Callable[[str], str]) -> None:
    path = cli.home / "state" / "tokens" / "default.json"
    record = json.loads(path.read_text())
    record["id_token"] = change(record["id_token"])
    path.write_text(json.dumps(record))


def flip_signature(token: str) -> str:
    head, body, signature = token.split(".")
    return ".".join((head, body, ("A" if signature[5] != "A" else "B").join((signature[:5], signature[6:]))))


def other_audience(cli: Cli) -> None:
    config = cli.home / "config.toml"
    config.write_text(config.read_text().replace('client_id = "authcli-device"', 'client_id = "someone-else"'))


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda cli, op: tamper_id_token(cli, flip_signature),
     "the ID token's signature does not match the keys {op} publishes at {op}/jwks"),
    (lambda cli, op: other_audience(cli), "the ID token was issued to another client (its aud is not someone-else)"),
    (lambda cli, op: time.sleep(7), "the ID token has expired"),  # issued for 1 s, 5 s of leeway
])
def test_whoami_verify_refuses_a_bad_id_token(cli: Cli, op: Provider, spoil: Callable[[Cli, Provider], None],
                                              message: str) -> None:
    op.ttl(id=1)
    device_login(cli, op)
    op.ttl(id=3600)
    if "expired" not in message:
        # Refreshing renews the ID token too: make the 1-second one renewed first, so only the
        # spoiling at hand is wrong with it.
        assert cli.run("refresh").code == 0
    spoil(cli, op)
    result = cli.run("whoami", "--verify")
    assert result.code == 4, result
    assert message.replace("{op}", op.url) in one_error_line(result)


def test_verify_never_sends_the_token_to_a_foreign_userinfo_endpoint(cli: Cli, op: Provider) -> None:
    browser_login(cli, op)
    config = cli.home / "config.toml"
    config.write_text(config.read_text().replace(f'userinfo_endpoint = "{op.url}/me"',
                                                 f'userinfo_endpoint = "{op.api}/me"'))
    result = cli.run("whoami", "--verify")
    assert result.code == 2
    assert "is not on the provider's origin, so authcli will not send the token there" in one_error_line(result)


@pytest.mark.parametrize(("answer", "message"), [
    ("deny", "authcli: login failed: the request was denied"),
    ("expire", "authcli: login failed: the code expired before it was used; run authcli login again"),
])
def test_device_flow_refused(cli: Cli, op: Provider, answer: str, message: str) -> None:
    if answer == "expire":
        op.ttl(device=2)  # gone before authcli's first poll, 5 s in: the provider says expired_token
    proc, url = start_device_login(cli, op)
    if answer == "deny":
        browser = Browser()
        browser.open(url)
        browser.submit()
        browser.submit(abort="yes")  # the "[ Abort ]" button
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert message in err and "Traceback" not in err
    assert op.stats()["urn:ietf:params:oauth:grant-type:device_code:400"] >= 1  # the provider's own answer
    assert cli.run("whoami").code == 4


def test_without_a_display_the_default_flow_is_device(cli: Cli, op: Provider) -> None:
    import signal

    proc = cli.popen("login", "--issuer", op.url, "--client-id", "authcli-device", "--api-url", op.api,
                     "--storage", "file", DISPLAY="", WAYLAND_DISPLAY="", SSH_CONNECTION="", SSH_TTY="")
    prompt_url(proc, "To sign in, open ")
    proc.send_signal(signal.SIGINT)  # stops polling
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err


# -- authorization code with PKCE and a loopback redirect (RFC 7636, RFC 8252) ------------------

def browser_login(cli: Cli, op: Provider) -> None:
    proc, url = start_browser_login(cli, op)
    browser = Browser()
    browser.open(url)
    browser.submit(login="alice", password="any")
    page = browser.submit()  # consent; the provider then redirects to authcli's listener
    assert browser.url.startswith("http://127.0.0.1:") and "/callback?" in browser.url
    assert "You can close this tab" in page
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_browser_flow_with_pkce(cli: Cli, op: Provider) -> None:
    browser_login(cli, op)
    assert json.loads(cli.run("call", "/me").out)["sub"] == "alice"
    info = json.loads(cli.run("whoami", "--json").out)
    assert info["user"]["email"] == "alice@example.com" and info["refresh_token"] is True
    assert op.stats()["authorization_code:200"] == 1


def test_browser_flow_denied(cli: Cli, op: Provider) -> None:
    proc, url = start_browser_login(cli, op)
    browser = Browser()
    browser.open(url)
    page = browser.follow("/abort")  # "[ Cancel ]" on the provider's login page
    assert "Sign-in failed" in page
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "authcli: login failed: End-User aborted interaction" in err


def test_browser_flow_wrong_state(cli: Cli, op: Provider) -> None:
    proc, url = start_browser_login(cli, op)
    redirect_uri = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
    browser = Browser(stop_at=redirect_uri)
    browser.open(url)
    browser.submit(login="alice", password="any")
    browser.submit()  # consent: the provider's redirect to authcli is held back...
    assert browser.stopped_at and "code=" in browser.stopped_at
    # ...and a forged one, with the real code but another state, arrives instead.
    forged = browser.stopped_at.replace("state=", "state=forged", 1)
    with urllib.request.urlopen(forged, timeout=30) as page:
        assert b"Sign-in failed" in page.read()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "the redirect carried the wrong state" in err
    assert "authorization_code:200" not in op.stats()  # the code was never exchanged


# -- client credentials --------------------------------------------------------------------

def cc_login(cli: Cli, op: Provider) -> Result:
    client = op.clients["service"]
    return cli.run(*login_args(op, "service", "client-credentials", "--profile", "svc", "--scope", "api:read"),
                   AUTHCLI_CLIENT_SECRET=client["client_secret"])


def test_client_credentials_fetch_one_token_for_many_jobs(cli: Cli, op: Provider) -> None:
    op.ttl(access=2)
    assert cc_login(cli, op).code == 0
    op.ttl(access=300)
    time.sleep(2.2)
    results = parallel(cli, 20, "token", "--profile", "svc")
    assert all(r.code == 0 for r in results), [r for r in results if r.code][:3]
    assert len({r.out for r in results}) == 1
    assert op.stats()["client_credentials:200"] == 2  # the login, then one renewal
    me = json.loads(cli.run("call", "-p", "svc", "/me").out)
    assert me["client_id"] == "authcli-service" and me["scope"] == "api:read"
    human = cli.run("whoami", "-p", "svc").out
    assert "client authcli-service" in human and "Scopes:   api:read" in human
    assert "none needed (client credentials" in human


# -- the refresh engine against the provider's rotation and reuse detection -------------------

def expired_session(cli: Cli, op: Provider) -> None:
    op.ttl(access=2)
    browser_login(cli, op)
    op.ttl(access=300)
    time.sleep(2.2)


def test_fifty_concurrent_token_calls_refresh_once(cli: Cli, op: Provider) -> None:
    expired_session(cli, op)
    results = parallel(cli, 50, "token")
    assert all(r.code == 0 for r in results), [r for r in results if r.code][:3]
    assert len({r.out for r in results}) == 1
    stats = op.stats()
    assert stats.get("refresh_token:200") == 1, stats
    assert "refresh_token:400" not in stats and "grant.revoked" not in stats, stats
    assert json.loads(cli.run("call", "/me").out)["sub"] == "alice"  # the grant survived
    assert cli.run("whoami", "--verify").code == 0


def test_without_the_lock_the_provider_revokes_the_grant(cli: Cli, op: Provider) -> None:
    expired_session(cli, op)
    parallel(cli, 20, "token", AUTHCLI_TEST_DISABLE_LOCK="1")
    stats = op.stats()
    assert stats.get("refresh_token:400", 0) >= 1 and stats.get("grant.revoked", 0) >= 1, stats


def test_logout_revokes_the_refresh_token(cli: Cli, op: Provider) -> None:
    browser_login(cli, op)
    refresh_token = json.loads((cli.home / "state" / "tokens" / "default.json").read_text())["refresh_token"]
    assert cli.run("logout").code == 0
    status, body = op.token_request(grant_type="refresh_token", refresh_token=refresh_token,
                                    client_id="authcli-browser")
    assert status == 400 and body["error"] == "invalid_grant"


# -- bad issuers --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def documents() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Documents)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(("issuer", "flow", "code", "message"), [
    ("http://127.0.0.1:9", "device", 5, "cannot reach 127.0.0.1:9"),
    ("{docs}/no-token-endpoint", "browser", 2, "/no-token-endpoint/.well-known/openid-configuration has no "
                                               "token_endpoint; pass --token-endpoint URL"),
    ("{docs}/token-endpoint-only", "device", 2, "the provider has no device authorization endpoint"),
    ("{docs}/token-endpoint-only", "browser", 2, "the provider has no authorization endpoint"),
], ids=["unreachable issuer", "no token endpoint", "no device endpoint", "no authorization endpoint"])
def test_bad_issuer(cli: Cli, documents: str, issuer: str, flow: str, code: int, message: str) -> None:
    result = cli.run("login", "--issuer", issuer.replace("{docs}", documents), "--client-id", "x", "--flow", flow,
                     "--api-url", "http://127.0.0.1:9", "--storage", "file", "--no-browser")
    assert result.code == code, result
    assert message in one_error_line(result)
    assert not (cli.home / "config.toml").exists()  # nothing half-saved
