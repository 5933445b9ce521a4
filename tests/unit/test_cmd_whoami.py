"""Tier two (as in gh) for `authcli whoami`: run(opts, ctx) with IOStreams.test(), a dict store and
a fixed clock -> stdout, stderr, exit code. Local state only (--verify asks a server: the
integration tests run it against the dev server and oidc-provider)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.whoami import WhoamiOptions, run
from authcli.config import Profile
from authcli.tokens import TokenRecord
from tests.fakes import jwt, make_ctx, outcome, profile, record

ALICE = jwt(sub="u-1", email="alice@example.com", name="Alice")
OAUTH = dict(flow="oauth", issuer="https://idp.example.com", client_id="cli", grant="device",
             token_endpoint="https://idp.example.com/token")

TEXT_ALICE = (
    "Profile:  default\n"
    "API:      https://api.example.com\n"
    "User:     Alice <alice@example.com> (u-1)\n"
    "Access:   valid, expires 2023-11-14T23:13:20Z (in 1h00m)\n"
    "Refresh:  held (the session renews itself)\n"
    "Storage:  memory: memory:default\n"
)


def described(**changes: Any) -> str:
    info = {
        "access_token_valid": True, "api_url": "https://api.example.com", "client_id": None, "dpop_jkt": None,
        "expires_at": "2023-11-14T23:13:20Z", "expires_in": 3600, "id_token_claims": None, "issuer": None,
        "profile": "default", "refresh_token": True, "renewable": True, "scopes": None, "storage": "memory",
        "storage_location": "memory:default", "user": {"email": "alice@example.com", "id": "u-1", "name": "Alice"},
    }
    info.update(changes)
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


@dataclass
class Case:
    opts: WhoamiOptions
    code: int
    out: str = ""
    err: str = ""
    profiles: list[Profile] | None = field(default_factory=lambda: [profile()])
    records: dict[str, TokenRecord] = field(default_factory=lambda: {"default": record(ALICE)})


CASES = [
    pytest.param(Case(WhoamiOptions(), 0, TEXT_ALICE), id="text, from a JWT access token"),
    pytest.param(Case(WhoamiOptions(json=True), 0, described()), id="json"),
    pytest.param(Case(WhoamiOptions(), 0, TEXT_ALICE.replace(
        "valid, expires 2023-11-14T23:13:20Z (in 1h00m)",
        "expired, expires 2023-11-14T22:13:10Z (expired 10s ago), renewed on next use"),
        records={"default": record(ALICE, expires_in=-10)}),
        id="expired but renewable"),
    pytest.param(Case(WhoamiOptions(), 0, TEXT_ALICE.replace(
        "User:     Alice <alice@example.com> (u-1)", "User:     unknown (no ID token, and the access token is not a JWT)")
        .replace("valid, expires 2023-11-14T23:13:20Z (in 1h00m)", "expiry unknown (used until the API answers 401)")
        .replace("held (the session renews itself)", "none (log in again when the access token expires)"),
        records={"default": record("opaque", refresh=None, expires_in=None)}),
        id="opaque token, no expiry, no refresh token"),
    pytest.param(Case(WhoamiOptions(profile="ci", json=True), 0, described(
        profile="ci", issuer="https://idp.example.com", client_id="cli", refresh_token=False, renewable=True,
        access_token_valid=False, expires_at="2023-11-14T22:13:10Z", expires_in=-10, storage_location="memory:ci",
        user={"email": None, "id": "ci-client", "name": None}, scopes=["api.read"]),
        profiles=[profile(), profile("ci", **{**OAUTH, "grant": "client-credentials"})],
        records={"ci": record(jwt(sub="ci-client"), refresh=None, expires_in=-10, scope="api.read")}),
        id="client credentials: expired and no refresh token is still a session"),
    pytest.param(Case(WhoamiOptions(), 0, TEXT_ALICE.replace("API:      https://api.example.com\n",
                                                             "API:      https://api.example.com\n"
                                                             "Issuer:   https://idp.example.com, client cli\n")
                      .replace("User:     Alice <alice@example.com> (u-1)", "User:     Bob (b-2)") + (
        "ID token: (decoded for display, not verified)\n"
        "  exp:  2023-11-14T23:13:20Z\n"
        "  name: Bob\n"
        "  sub:  b-2\n"),
        profiles=[profile(**OAUTH)], records={"default": record(ALICE, id_token=jwt(sub="b-2", name="Bob",
                                                                                     exp=1_700_003_600))}),
        id="the ID token's claims win, shown and marked unverified"),
    pytest.param(Case(WhoamiOptions(), 0, TEXT_ALICE.replace("Alice <alice@example.com> (u-1)", "Eve\\x1b[2J (u-1)"),
                      records={"default": record(jwt(sub="u-1", name="Eve\x1b[2J"))}),
        id="claims are shown, never obeyed by the terminal"),
    # errors
    pytest.param(Case(WhoamiOptions(), 4, err="authcli: not logged in; run authcli login --api-url URL\n",
                      profiles=None, records={}),
                 id="no config: not logged in"),
    pytest.param(Case(WhoamiOptions(), 4, err="authcli: not logged in; run authcli login\n", records={}),
                 id="no session"),
    pytest.param(Case(WhoamiOptions(profile="ci"), 4, err="authcli: not logged in; run authcli login --profile ci\n",
                      profiles=[profile("ci")], records={"ci": record(refresh=None, expires_in=-1)}),
                 id="expired with nothing to renew it: not logged in"),
    pytest.param(Case(WhoamiOptions(profile="x"), 2,
                      err="authcli: unknown profile 'x' (known: default); create it with authcli login --profile x\n"),
                 id="unknown profile"),
    pytest.param(Case(WhoamiOptions(), 2,
                      err="authcli: profile 'default' has no api_url; run authcli login --api-url URL\n",
                      profiles=[profile(api_url=None)]),
                 id="a profile without an API URL"),
    pytest.param(Case(WhoamiOptions(verify=True), 2,
                      err="authcli: the userinfo endpoint https://evil.example.net/userinfo is not on the provider's "
                          "origin, so authcli will not send the token there; fix userinfo_endpoint in the profile\n",
                      profiles=[profile(**OAUTH, userinfo_endpoint="https://evil.example.net/userinfo")]),
                 id="verify never sends the token to a foreign userinfo endpoint"),
]


@pytest.mark.parametrize("case", CASES)
def test_whoami(tmp_path: Path, case: Case) -> None:
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records)
    assert outcome(run, case.opts, ctx) == (case.code, case.out, case.err)
    assert ctx.flow_.calls == []  # local state only: nothing refreshed, nothing asked
