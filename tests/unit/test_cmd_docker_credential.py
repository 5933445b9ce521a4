"""Tier two (as in gh) for docker-credential-authcli: run(action, ctx) with Docker's request on
IOStreams.test()'s stdin, a dict store and a fake flow -> stdout, stderr, exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authcli.commands.docker_credential import run
from tests.fakes import ALICE, HelperCase, make_ctx, outcome, profile, record

NOT_FOUND = "credentials not found in native keychain\n"


def answer(server: str, user: str = "alice@example.com", secret: str = ALICE) -> str:
    return json.dumps({"ServerURL": server, "Username": user, "Secret": secret}) + "\n"


Case = HelperCase[str]  # the action Docker passes

REGISTRY = profile("reg", "https://api.example.com", registry="registry.example.com:5000", registry_username="robot")

CASES = [
    pytest.param(Case("get", "api.example.com\n", 0, answer("api.example.com")), id="get: a bare host"),
    pytest.param(Case("get", "https://api.example.com/v2/", 0, answer("https://api.example.com/v2/")),
                 id="get: a URL"),
    pytest.param(Case("get", "registry.example.com:5000", 0, answer("registry.example.com:5000", "robot", "reg-token"),
                      profiles=[profile(), REGISTRY], records={"reg": record("reg-token")}),
                 id="get: the profile's registry and registry_username"),
    pytest.param(Case("get", "other.example.com", 1, NOT_FOUND), id="get: a registry no profile has"),
    pytest.param(Case("get", "http://api.example.com", 1, NOT_FOUND), id="get: http off loopback is another origin"),
    pytest.param(Case("get", "", 1, NOT_FOUND), id="get: nothing on stdin"),
    pytest.param(Case("store", '{"ServerURL": "x", "Username": "u", "Secret": "s"}', 0), id="store: accepted, nothing kept"),
    pytest.param(Case("erase", "api.example.com", 0), id="erase: accepted, nothing changed"),
    pytest.param(Case("list", "", 0, '{"https://api.example.com:443": "default", '
                                     '"https://registry.example.com:5000": "robot"}\n',
                      profiles=[profile(), REGISTRY, profile("none", None)]),
                 id="list: each origin once, by registry else API"),
    # errors
    pytest.param(Case("get", "api.example.com", 4, err="authcli: not logged in; run authcli login\n", records={}),
                 id="get: not logged in"),
    pytest.param(Case("get", "api.example.com", 2,
                      err="authcli: profile 'default' holds DPoP-bound tokens, which Docker cannot present\n",
                      records={"default": record(ALICE, dpop_key="-----BEGIN PRIVATE KEY-----")}),
                 id="get: dpop"),
    pytest.param(Case("version", "", 2, err="authcli: unknown action 'version': Docker sends get, store, erase or list\n"),
                 id="unknown action"),
]


@pytest.mark.parametrize("case", CASES)
def test_docker_credential(tmp_path: Path, case: Case) -> None:
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records, stdin=case.stdin)
    assert outcome(run, case.opts, ctx) == (case.code, case.out, case.err)
    assert ctx.store_.records == case.records  # nothing Docker says changes the session
