"""OAuth 2.0 against a real authorization server nobody on this project wrote:
django-oauth-toolkit (tests/servers/dot_server.py), with rotating refresh tokens and reuse
protection (a spent refresh token presented again revokes the grant)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    Cli,
    Result,
    one_error_line,
    post_form,
    start_json_server,
    start_resource_api,
    stop_process,
)
from tests.helpers import parallel

pytest.importorskip("oauth2_provider", reason="django-oauth-toolkit is a test dependency: pip install -e .[test]")

SERVER = Path(__file__).resolve().parents[1] / "servers" / "dot_server.py"


@dataclass
class Dot:
    url: str
    password_client: str
    cc_client: str
    cc_secret: str
    device_client: str
    code_client: str
    proc: subprocess.Popen[str]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.load(response)

    def stats(self) -> dict[str, int]:
        return self.get("/_stats")  # type: ignore[no-any-return]

    def access_ttl(self, seconds: int) -> None:
        self.get(f"/_admin/access_ttl?seconds={seconds}")

    def token_request(self, **form: str) -> tuple[int, dict[str, Any]]:
        return post_form(self.url + "/o/token/", **form)


@pytest.fixture
def dot(tmp_path: Path) -> Iterator[Dot]:
    proc, info = start_json_server([sys.executable, str(SERVER), "--access-ttl", "300"], tmp_path)
    yield Dot(info["url"], info["password_client"], info["cc_client"], info["cc_secret"], info["device_client"],
              info["code_client"], proc)
    stop_process(proc)


def password_login(cli: Cli, dot: Dot, *extra: str, password: str = "alice-password",
                   api_url: str | None = None) -> Result:
    return cli.run("login", "--token-endpoint", f"{dot.url}/o/token/", "--revocation-endpoint",
                   f"{dot.url}/o/revoke_token/", "--client-id", dot.password_client, "--api-url", api_url or dot.url,
                   "--email", "alice", "--password-stdin", "--storage", "file", *extra, input=password + "\n")


def test_password_grant_reaches_an_api_that_introspects(cli: Cli, dot: Dot, tmp_path: Path) -> None:
    # A separate resource server that asks DOT (RFC 7662) about each token, with the
    # confidential client's credentials.
    api, api_url = start_resource_api(f"{dot.url}/o/introspect/", dot.cc_client, dot.cc_secret, tmp_path)
    try:
        assert password_login(cli, dot, api_url=api_url).code == 0
        me = cli.run("call", "/me")
        assert me.code == 0, me
        assert json.loads(me.out)["username"] == "alice"
    finally:
        stop_process(api)


def cc_login(cli: Cli, dot: Dot, secret: str | None = None) -> Result:
    return cli.run("login", "--profile", "svc", "--token-endpoint", f"{dot.url}/o/token/", "--client-id",
                   dot.cc_client, "--flow", "client-credentials", "--api-url", dot.url, "--storage", "file",
                   AUTHCLI_CLIENT_SECRET=secret or dot.cc_secret)


def expire(cli: Cli, dot: Dot, login: Any) -> None:
    dot.access_ttl(2)
    assert login(cli, dot).code == 0
    dot.access_ttl(300)
    time.sleep(2.2)


def test_password_grant_call_and_whoami(cli: Cli, dot: Dot) -> None:
    result = password_login(cli, dot)
    assert result.code == 0, result
    assert "as alice" in result.err
    me = cli.run("call", "/api/me")
    assert me.code == 0 and json.loads(me.out)["username"] == "alice"
    info = json.loads(cli.run("whoami", "--json").out)
    assert info["refresh_token"] is True and info["access_token_valid"] is True
    config = (cli.home / "config.toml").read_text()
    assert 'flow = "oauth"' in config and "grant = \"password\"" in config
    assert "alice-password" not in config
    # Logging in again needs only the credentials: the profile remembers the rest.
    again = cli.run("login", "--email", "alice", "--password-stdin", input="alice-password\n")
    assert again.code == 0, again
    assert (cli.home / "config.toml").read_text() == config


def test_concurrent_refresh_uses_the_refresh_token_once(cli: Cli, dot: Dot) -> None:
    expire(cli, dot, password_login)
    results = parallel(cli, 30, "token")
    assert all(r.code == 0 for r in results), [r for r in results if r.code][:3]
    assert len({r.out for r in results}) == 1
    stats = dot.stats()
    assert stats.get("refresh_token:200") == 1 and "refresh_token:400" not in stats, stats
    assert cli.run("call", "/api/me").code == 0  # the grant survived


def test_without_the_lock_the_provider_revokes_the_grant(cli: Cli, dot: Dot) -> None:
    expire(cli, dot, password_login)
    parallel(cli, 30, "token", AUTHCLI_TEST_DISABLE_LOCK="1")
    assert dot.stats().get("refresh_token:400", 0) >= 1
    time.sleep(0.1)
    assert cli.run("call", "/api/me").code in (1, 4)  # revoked: the retry's refresh is refused


def test_client_credentials_fetch_one_token_for_many_jobs(cli: Cli, dot: Dot) -> None:
    expire(cli, dot, cc_login)
    results = parallel(cli, 20, "token", "--profile", "svc")
    assert all(r.code == 0 for r in results)
    assert len({r.out for r in results}) == 1
    assert dot.stats()["client_credentials:200"] == 2  # the login, then one renewal
    me = cli.run("call", "-p", "svc", "/api/me")
    assert json.loads(me.out)["client_id"] == dot.cc_client
    # The client secret lives with the tokens, never in the config file.
    assert dot.cc_secret not in (cli.home / "config.toml").read_text()
    assert dot.cc_secret in (cli.home / "state" / "tokens" / "svc.json").read_text()


def test_logout_revokes_the_refresh_token(cli: Cli, dot: Dot) -> None:
    assert password_login(cli, dot).code == 0
    refresh_token = json.loads((cli.home / "state" / "tokens" / "default.json").read_text())["refresh_token"]
    assert cli.run("logout").code == 0
    status, body = dot.token_request(grant_type="refresh_token", refresh_token=refresh_token,
                                     client_id=dot.password_client)
    assert status == 400 and body["error"] == "invalid_grant"


def test_revoked_grant_ends_the_session(cli: Cli, dot: Dot) -> None:
    expire(cli, dot, password_login)
    refresh_token = json.loads((cli.home / "state" / "tokens" / "default.json").read_text())["refresh_token"]
    data = urllib.parse.urlencode({"token": refresh_token, "client_id": dot.password_client}).encode()
    urllib.request.urlopen(dot.url + "/o/revoke_token/", data=data, timeout=30).close()
    result = cli.run("token")
    assert result.code == 4
    assert one_error_line(result) == "authcli: session expired, run authcli login"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--issuer", "http://127.0.0.1:9", "--client-id", "x"], 5, "cannot reach 127.0.0.1:9"),
        (["--issuer", "{dot}", "--client-id", "x"], 2, "no discovery document"),
        (["--issuer", "http://auth.example.com", "--client-id", "x"], 2, "--issuer: refusing http://"),
        (["--token-endpoint", "{dot}/o/token/"], 2, "no OAuth client: pass --client-id"),
        (["--token-endpoint", "{dot}/o/token/", "--client-id", "x", "--flow", "browser"], 2,
         "no authorization endpoint"),
        (["--token-endpoint", "{dot}/o/token/", "--client-id", "x", "--flow", "device"], 2,
         "no device authorization endpoint"),
    ],
    ids=["unreachable issuer", "no discovery", "http issuer", "no client id", "no authorization endpoint",
         "no device endpoint"],
)
def test_bad_oauth_input(cli: Cli, dot: Dot, args: list[str], code: int, message: str) -> None:
    args = [a.replace("{dot}", dot.url) for a in args]
    result = cli.run("login", *args, "--api-url", dot.url, "--email", "alice", "--password-stdin",
                     "--storage", "file", input="alice-password\n")
    assert result.code == code, result
    assert message in one_error_line(result)


def test_wrong_password_and_wrong_client_secret_are_exit_4(cli: Cli, dot: Dot) -> None:
    wrong = password_login(cli, dot, password="nope")
    assert wrong.code == 4 and "login failed: " in one_error_line(wrong)
    bad_secret = cc_login(cli, dot, secret="not-the-secret")
    assert bad_secret.code == 4 and "login failed: " in one_error_line(bad_secret)


def device_login(cli: Cli, dot: Dot) -> subprocess.Popen[str]:
    return cli.popen("login", "--token-endpoint", f"{dot.url}/o/token/", "--device-authorization-endpoint",
                     f"{dot.url}/o/device-authorization/", "--client-id", dot.device_client, "--flow", "device",
                     "--api-url", dot.url, "--storage", "file")


def user_code(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "enter the code: " in line, line
    return line.rsplit("enter the code: ", 1)[1].strip()


@pytest.mark.parametrize(("action", "code", "message"), [
    ("approve", 0, "Logged in"),
    ("deny", 4, "authcli: login failed: the request was denied"),
    ("expire", 4, "authcli: login failed: the code expired before it was used; run authcli login again"),
])
def test_device_flow(cli: Cli, dot: Dot, action: str, code: int, message: str) -> None:
    proc = device_login(cli, dot)
    user = user_code(proc)
    time.sleep(1.5)  # let it poll at least once while the answer is pending
    dot.get(f"/_admin/device?user_code={user}&action={action}")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert message in err and "Traceback" not in err
    assert out == ""
    if action == "approve":
        assert json.loads(cli.run("call", "/api/me").out)["username"] == "alice"
        assert dot.stats()["urn:ietf:params:oauth:grant-type:device_code:400"] >= 1  # authorization_pending


def test_ctrl_c_while_polling_is_exit_130(cli: Cli, dot: Dot) -> None:
    import signal

    proc = device_login(cli, dot)
    user_code(proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    assert cli.run("whoami").code == 4


def browser_login(cli: Cli, dot: Dot, *extra: str) -> subprocess.Popen[str]:
    return cli.popen("login", "--token-endpoint", f"{dot.url}/o/token/", "--authorization-endpoint",
                     f"{dot.url}/o/authorize/", "--client-id", dot.code_client, "--flow", "browser", "--no-browser",
                     "--api-url", dot.url, "--storage", "file", *extra)


def authorize_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("Open this URL to sign in: "), line
    return line.split(": ", 1)[1].strip()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def test_authorization_code_with_pkce(cli: Cli, dot: Dot) -> None:
    import http.cookiejar

    proc = browser_login(cli, dot)
    url = authorize_url(proc)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"][0].startswith("http://127.0.0.1:")
    # What the browser does: sign in at the provider, follow its redirect to authcli's listener.
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
    browser.open(dot.url + "/_login").close()
    try:
        browser.open(url)
        raise AssertionError("the provider did not redirect")
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        callback = redirect.headers["Location"]
    assert callback.startswith(query["redirect_uri"][0]) and "code=" in callback
    with urllib.request.urlopen(callback, timeout=30) as page:
        assert b"You can close this tab" in page.read()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(cli.run("call", "/api/me").out)["username"] == "alice"


def test_wrong_state_is_refused(cli: Cli, dot: Dot) -> None:
    proc = browser_login(cli, dot)
    url = authorize_url(proc)
    redirect_uri = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
    with urllib.request.urlopen(f"{redirect_uri}?code=stolen&state=forged", timeout=30) as page:
        assert b"Sign-in failed" in page.read()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4
    assert "the redirect carried the wrong state" in err
    assert cli.run("whoami").code == 4


def test_no_redirect_in_time(cli: Cli, dot: Dot) -> None:
    proc = browser_login(cli, dot, "--browser-timeout", "1")
    authorize_url(proc)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4
    assert "no answer from the browser within 1s" in err
