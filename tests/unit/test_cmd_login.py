"""Tier two (as in gh) for `authcli login`: run(opts, ctx) with IOStreams.test() (stdin, a terminal
or not), a dict store and a fake flow -> stdout, stderr, exit code, and what config.toml and the
store hold afterwards. The real flows are tested against the dev server, oidc-provider and
idpyoidc (tests/integration/test_login.py, test_oauth_*.py, test_token_exchange*.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.login import LoginOptions, run
from authcli.config import Config, Profile
from authcli.errors import LoginFailed
from authcli.tokens import TokenRecord
from tests.fakes import API, jwt, make_ctx, outcome, profile, record

ALICE = jwt(sub="u-1", email="alice@example.com")
SIGNED_IN = record(ALICE, "refresh-1")
FILE_WARNING = ("authcli: warning: tokens for profile '{name}' are stored in memory:{name}, protected only by file "
                "permissions\n")
PASSWORD = LoginOptions(api_url=API, email="alice@example.com", password_stdin=True, storage="file")


@dataclass
class Case:
    opts: LoginOptions
    code: int
    err: str
    stdin: str = "pw\n"
    tty: bool = False
    profiles: list[Profile] | None = None
    records: dict[str, TokenRecord] = field(default_factory=dict)
    logins: list[Any] = field(default_factory=lambda: [SIGNED_IN])
    asked: list[Any] = field(default_factory=list)  # what flow.login was given
    saved: dict[str, str] | None = None  # profile name -> its api_url in config.toml afterwards (None: unchanged)
    stored: dict[str, str] = field(default_factory=dict)  # profile -> access token in the store afterwards


CASES = [
    pytest.param(Case(PASSWORD, 0, FILE_WARNING.format(name="default") + "Logged in to https://api.example.com as "
                      "alice@example.com (profile 'default', file storage)\n",
                      asked=[("alice@example.com", "pw", None)], saved={"default": API}, stored={"default": ALICE}),
                 id="password from stdin"),
    pytest.param(Case(LoginOptions(profile="w", api_url="https://w.example.com/v1", email="bob", password_stdin=True,
                                   storage="file"), 0,
                      FILE_WARNING.format(name="w") + "Logged in to https://w.example.com/v1 as bob (profile 'w', "
                      "file storage)\n",
                      stdin="s3cret\r\n", logins=[record("opaque", origin="https://w.example.com:443")],
                      asked=[("bob", "s3cret", None)], profiles=[profile()],
                      saved={"default": API, "w": "https://w.example.com/v1"}, stored={"w": "opaque"}),
                 id="a second profile; an opaque token names nobody, so the typed name is shown"),
    pytest.param(Case(LoginOptions(password_stdin=True, storage="file"), 0,
                      "API URL: Email: " + FILE_WARNING.format(name="default") + "Logged in to https://api.example.com "
                      "as alice@example.com (profile 'default', file storage)\n",
                      stdin="https://api.example.com\nalice@example.com\npw\n", tty=True,
                      asked=[("alice@example.com", "pw", None)], saved={"default": API}, stored={"default": ALICE}),
                 id="on a terminal: asked for the API URL and email"),
    pytest.param(Case(LoginOptions(email="alice@example.com", password_stdin=True, storage="file"), 0,
                      FILE_WARNING.format(name="default") + "Logged in to https://api.example.com as "
                      "alice@example.com (profile 'default', file storage)\n",
                      profiles=[profile()], records={"default": record("old")}, asked=[("alice@example.com", "pw", None)],
                      saved={"default": API}, stored={"default": ALICE}),
                 id="again: the profile's API URL, the old session replaced"),
    pytest.param(Case(LoginOptions(api_url=API, storage="redis", join=True), 0,
                      "Joined the shared session for https://api.example.com at memory:default (profile 'default', "
                      "redis storage)\n",
                      records={"default": record("shared")}, logins=[], saved={"default": API},
                      stored={"default": "shared"}),
                 id="join a fleet's session"),
    # errors
    pytest.param(Case(LoginOptions(email="e", password_stdin=True), 2,
                      "authcli: no API URL for profile 'default': pass --api-url URL\n", logins=[]),
                 id="no API URL in a script"),
    pytest.param(Case(LoginOptions(api_url="ftp://x", email="e", password_stdin=True), 2,
                      "authcli: invalid API URL 'ftp://x': expected https://host[/path]\n", logins=[]),
                 id="not an https URL"),
    pytest.param(Case(LoginOptions(api_url="http://api.example.com", email="e", password_stdin=True), 2,
                      "authcli: refusing http:// for api.example.com: tokens would travel in clear text; use https:// "
                      "(plain http is allowed only for localhost, 127.0.0.0/8 and ::1)\n", logins=[]),
                 id="plain http off loopback"),
    pytest.param(Case(LoginOptions(api_url=API, password_stdin=True, storage="file"), 2,
                      "authcli: no email: pass --email EMAIL\n", logins=[]),
                 id="no email in a script"),
    pytest.param(Case(LoginOptions(api_url=API, email="e", storage="file"), 2,
                      "authcli: no password: pipe it in with --password-stdin, or run authcli login in a terminal\n",
                      logins=[]),
                 id="no password in a script"),
    pytest.param(Case(PASSWORD, 2, "authcli: --password-stdin: nothing was read from standard input\n", stdin="\n",
                      logins=[]),
                 id="an empty password"),
    pytest.param(Case(LoginOptions(profile="../x", api_url=API), 2,
                      "authcli: invalid profile name '../x': use up to 64 letters, digits, '.', '_' or '-', starting "
                      "with a letter or digit\n", logins=[]),
                 id="a profile name that would be a path"),
    pytest.param(Case(LoginOptions(api_url=API, storage="floppy"), 2,
                      "authcli: unknown storage 'floppy': use 'keyring', 'file', 'redis' or 'encrypted'\n", logins=[]),
                 id="unknown storage"),
    pytest.param(Case(LoginOptions(api_url=API, storage="file", redis_url="redis://r"), 2,
                      "authcli: --redis-url, --redis-namespace, --redis-password-stdin, --join and --replace go with "
                      "--storage redis\n", logins=[]),
                 id="redis flags without redis storage"),
    pytest.param(Case(LoginOptions(api_url=API, storage="file", key_file="k"), 2,
                      "authcli: --key-file goes with --storage encrypted\n", logins=[]),
                 id="key flags without encrypted storage"),
    pytest.param(Case(LoginOptions(api_url=API, storage="encrypted", key_file="k", passphrase=True), 2,
                      "authcli: --key-file and --passphrase both say where the key comes from: choose one\n",
                      logins=[]),
                 id="two key sources"),
    pytest.param(Case(LoginOptions(api_url=API, storage="redis", join=True, replace=True), 2,
                      "authcli: --join adopts the shared session and --replace signs in over it: choose one\n",
                      logins=[]),
                 id="join and replace"),
    pytest.param(Case(LoginOptions(api_url=API, storage="redis", join=True), 4,
                      "authcli: no shared session at memory:default; log in on one machine first: authcli login "
                      "--storage redis (same API, Redis and namespace)\n", logins=[]),
                 id="join with no shared session"),
    pytest.param(Case(LoginOptions(api_url=API, flow="bogus", client_id="c"), 2,
                      "authcli: unknown --flow 'bogus': use browser, device, password, client-credentials or "
                      "token-exchange\n", logins=[]),
                 id="unknown flow"),
    pytest.param(Case(LoginOptions(api_url=API, token_endpoint="https://idp.example.com/token", flow="device"), 2,
                      "authcli: no OAuth client: pass --client-id ID\n", logins=[]),
                 id="oauth without a client"),
    pytest.param(Case(LoginOptions(api_url=API, client_id="c", flow="device", redirect_port=70000), 2,
                      "authcli: --redirect-port must be between 1 and 65535\n", logins=[]),
                 id="redirect port out of range"),
    pytest.param(Case(LoginOptions(api_url=API, client_id="c", flow="device"), 2,
                      "authcli: pass --issuer URL (for discovery) or --token-endpoint URL\n", logins=[]),
                 id="oauth without an issuer or token endpoint"),
    pytest.param(Case(LoginOptions(api_url=API, client_id="c", flow="password", email="e", password_stdin=True,
                                   client_secret_stdin=True, token_endpoint="https://idp.example.com/token",
                                   storage="file"), 2,
                      "authcli: --password-stdin and --client-secret-stdin both read stdin; pass the client secret in "
                      "AUTHCLI_CLIENT_SECRET instead\n", logins=[]),
                 id="two secrets on one stdin"),
    pytest.param(Case(PASSWORD, 4, "authcli: wrong email or password\n", logins=[LoginFailed("wrong email or password")],
                      asked=[("alice@example.com", "pw", None)]),
                 id="the server refuses: nothing saved"),
]


@pytest.mark.parametrize("case", CASES)
def test_login(tmp_path: Path, case: Case) -> None:
    home = tmp_path / "home"
    ctx = make_ctx(home, case.profiles, records=case.records, stdin=case.stdin, tty=case.tty)
    ctx.flow_.logins = list(case.logins)
    assert outcome(run, case.opts, ctx) == (case.code, "", case.err)
    assert [given for call, given in ctx.flow_.calls if call == "login"] == case.asked
    config = Config.load(home / "config.toml")
    before = {p.name: p.api_url for p in case.profiles or []}
    assert {name: p.api_url for name, p in config.profiles.items()} == (before if case.saved is None else case.saved)
    expected = {name: r.access_token for name, r in case.records.items()} | case.stored
    assert {name: r.access_token for name, r in ctx.store_.records.items()} == expected
