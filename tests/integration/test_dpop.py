"""DPoP-bound sessions (RFC 9449) against the real oidc-provider and a resource API that makes
the checks a resource server makes (tests/servers/resource_api.py)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, one_error_line
from tests.helpers import (
    USER_SCOPES,
    Provider,
    approve_device,
    login_args,
    parallel,
    prompt_url,
    running_provider,
)

TOKENS = Path("state") / "tokens" / "default.json"


def dpop_device_login(cli: Cli, op: Provider, *extra: str) -> None:
    proc = cli.popen(*login_args(op, "device", "device", "--scope", USER_SCOPES, "--dpop", *extra))
    prompt_url(proc, "To sign in, open ")
    approve_device(prompt_url(proc, "(or open ").rstrip(")"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def stored(cli: Cli) -> dict[str, Any]:
    return json.loads((cli.home / TOKENS).read_text())  # type: ignore[no-any-return]


def api_stats(op: Provider) -> dict[str, int]:
    with urllib.request.urlopen(op.api + "/_stats", timeout=30) as response:
        return json.load(response)  # type: ignore[no-any-return]


def get_me(op: Provider, headers: dict[str, str]) -> int:
    request = urllib.request.Request(op.api + "/me", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def foreign_proof(method: str, url: str, token: str | None = None) -> str:
    """A well-formed proof signed by another key than the session's: a thief's."""
    from authcli.dpop import Prover, new_key

    return Prover(new_key()).proof(method, url, token)


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with running_provider(tmp_path) as provider:
        yield provider


@pytest.fixture
def op_nonce(tmp_path: Path) -> Iterator[Provider]:
    """The provider and the API both demand their DPoP nonce in every proof."""
    with running_provider(tmp_path, "--require-dpop-nonce") as provider:
        yield provider


def test_device_flow_with_dpop_call_refresh_and_verify(cli: Cli, op: Provider) -> None:
    op.ttl(access=3)
    dpop_device_login(cli, op)
    op.ttl(access=300)
    record = stored(cli)
    assert record["token_type"] == "DPoP" and record["dpop_key"].startswith("-----BEGIN PRIVATE KEY-----")
    me = cli.run("call", "/me")
    assert me.code == 0 and json.loads(me.out)["sub"] == "alice", me
    info = json.loads(cli.run("whoami", "--json").out)
    assert info["dpop_jkt"] and info["dpop_jkt"] not in json.dumps(record)  # the thumbprint, not the key
    assert "Bound:    DPoP, key thumbprint " + info["dpop_jkt"] in cli.run("whoami").out
    time.sleep(3.2)
    after = cli.run("call", "/me")  # expired: refreshed with a proof, then called with one
    assert after.code == 0, after
    assert op.stats()["refresh_token:200"] == 1 and op.stats()["dpop"] >= 2
    verified = cli.run("whoami", "--verify", "--json")  # userinfo, with DPoP too
    assert verified.code == 0 and json.loads(verified.out)["id_token_verified"] is True, verified
    assert stored(cli)["dpop_key"] == record["dpop_key"]  # one key for the session's lifetime


def test_a_bare_token_is_refused_and_json_says_dpop(cli: Cli, op: Provider) -> None:
    dpop_device_login(cli, op)
    bare = cli.run("token")
    assert bare.code == 2 and "DPoP-bound tokens, which are useless without a proof" in one_error_line(bare)
    assert bare.out == ""
    data = json.loads(cli.run("token", "--format", "json").out)
    assert data["token_type"] == "DPoP" and data["access_token"] == stored(cli)["access_token"]
    assert cli.run("exec", "--token", "--", "true").code == 2
    # Through the proxy a program needs no key: the proxy signs a proof for each request.
    from tests.helpers import PROXIED

    through = cli.run("exec", "--", sys.executable, "-c", PROXIED.replace("/users/me", "/me"))
    assert through.code == 0 and '"sub": "alice"' in through.out, through


def test_stolen_tokens_are_useless_without_the_key(cli: Cli, op: Provider) -> None:
    dpop_device_login(cli, op)
    record = stored(cli)
    access, refresh = record["access_token"], record["refresh_token"]
    url = op.api + "/me"
    # The access token, as Bearer or with a thief's proof: refused by the API.
    assert get_me(op, {"Authorization": f"Bearer {access}"}) == 401
    assert get_me(op, {"Authorization": f"DPoP {access}", "DPoP": foreign_proof("GET", url, access)}) == 401
    assert api_stats(op) == {"dpop_scheme": 1, "wrong_key": 1}
    # ...and by the provider's own userinfo endpoint.
    userinfo = urllib.request.Request(op.url + "/me", headers={"Authorization": f"Bearer {access}"})
    try:
        urllib.request.urlopen(userinfo, timeout=30)
        raise AssertionError("the provider accepted a DPoP-bound access token as Bearer")
    except urllib.error.HTTPError as exc:
        assert exc.code in (400, 401)
    # The refresh token, without a proof or with a thief's: refused by the provider.
    token_url = op.url + "/token"
    assert url
    status, body = op.token_request(grant_type="refresh_token", refresh_token=refresh, client_id="authcli-device")
    assert status in (400, 401), body
    stolen = urllib.request.Request(
        token_url, method="POST",
        data=f"grant_type=refresh_token&refresh_token={refresh}&client_id=authcli-device".encode(),
        headers={"DPoP": foreign_proof("POST", token_url), "Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(stolen, timeout=30)
        raise AssertionError("the provider accepted a refresh token with another key's proof")
    except urllib.error.HTTPError as exc:
        assert exc.code in (400, 401)
    # The key's owner still can.
    assert cli.run("call", "/me").code == 0


def test_fifty_concurrent_calls_after_expiry_refresh_once(cli: Cli, op: Provider) -> None:
    op.ttl(access=2)
    dpop_device_login(cli, op)
    op.ttl(access=300)
    time.sleep(2.2)
    results = parallel(cli, 25, "token", "--format", "json") + parallel(cli, 25, "call", "/me")
    assert [r for r in results if r.code != 0] == []
    assert len({json.loads(r.out)["access_token"] for r in results[:25]}) == 1
    stats = op.stats()
    assert stats["refresh_token:200"] == 1 and "refresh_token:400" not in stats, stats


def test_the_browser_and_client_credentials_flows_bind_too(cli: Cli, op: Provider) -> None:
    from tests.helpers import start_browser_login
    from tests.servers.browser import Browser

    op.ttl(access=2)
    proc, url = start_browser_login(cli, op, "--dpop")
    browser = Browser()
    browser.open(url)
    browser.submit(login="alice", password="any")
    browser.submit()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert stored(cli)["token_type"] == "DPoP" and cli.run("call", "/me").code == 0
    service = cli.run(*login_args(op, "service", "client-credentials", "--profile", "svc", "--scope", "api:read",
                                  "--dpop"), AUTHCLI_CLIENT_SECRET=op.clients["service"]["client_secret"])
    assert service.code == 0, service
    op.ttl(access=300)
    me = cli.run("call", "-p", "svc", "/me")
    assert me.code == 0 and json.loads(me.out)["client_id"] == "authcli-service", me
    time.sleep(2.2)  # both expired: the browser session refreshes, the service asks again, both with proofs
    assert cli.run("call", "/me").code == 0 and cli.run("call", "-p", "svc", "/me").code == 0
    stats = op.stats()
    assert stats["refresh_token:200"] == 1 and stats["client_credentials:200"] == 2, stats
    verified = cli.run("whoami", "--verify", "--json")
    assert verified.code == 0 and json.loads(verified.out)["id_token_verified"] is True, verified
    assert get_me(op, {"Authorization": "Bearer " + json.loads(cli.run("token", "-p", "svc", "--format",
                                                                         "json").out)["access_token"]}) == 401


def test_nonces_demanded_by_the_provider_and_the_api(cli: Cli, op_nonce: Provider) -> None:
    op = op_nonce
    op.ttl(access=2)
    dpop_device_login(cli, op)  # several polls: the nonce from the first answer is reused
    op.ttl(access=300)
    assert op.stats()["error:use_dpop_nonce"] == 1
    me = cli.run("call", "/me")
    assert me.code == 0, me
    assert api_stats(op)["use_dpop_nonce"] == 1  # asked once, then the retry carried it
    time.sleep(2.2)
    assert cli.run("call", "/me").code == 0  # a refresh in a new process: asked again, once
    assert op.stats()["error:use_dpop_nonce"] == 2 and op.stats()["refresh_token:200"] == 1


def test_a_nonce_challenge_that_never_ends_costs_no_refresh(cli: Cli, tmp_path: Path) -> None:
    """An API that asks for a new nonce again after the retry has not rejected the token."""
    with running_provider(tmp_path, "--nonce-never-satisfied") as op:
        dpop_device_login(cli, op)
        for _ in range(3):
            me = cli.run("call", "/me")
            assert me.code == 1 and '"use_dpop_nonce"' in me.out, me  # the API's answer, as it is
        assert op.stats().get("refresh_token:200", 0) == 0
        assert api_stats(op)["use_dpop_nonce"] == 6  # each call: the request and its one retry


def test_a_provider_without_dpop_is_refused(cli: Cli, tmp_path: Path) -> None:
    import threading
    from http.server import ThreadingHTTPServer

    from tests.helpers import DOCUMENTS, Documents

    DOCUMENTS["no-dpop"] = {"issuer": "x", "token_endpoint": "http://127.0.0.1:9/token",
                            "device_authorization_endpoint": "http://127.0.0.1:9/device"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Documents)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issuer = f"http://127.0.0.1:{server.server_address[1]}/no-dpop"
        result = cli.run("login", "--issuer", issuer, "--client-id", "x", "--flow", "device", "--dpop",
                         "--api-url", "http://127.0.0.1:9", "--storage", "file")
    finally:
        server.shutdown()
    assert result.code == 2, result
    assert f"the provider {issuer} does not offer DPoP with ES256" in one_error_line(result)


def test_the_record_never_leaves_the_key_in_reprs_or_traces(cli: Cli, op: Provider) -> None:
    dpop_device_login(cli, op)
    verbose = cli.run("call", "-v", "/me")
    assert "authorization: DPoP ***" in verbose.err and "dpop: ***" in verbose.err
    key_body = stored(cli)["dpop_key"].splitlines()[1]
    assert key_body not in verbose.err and stored(cli)["access_token"] not in verbose.err
