"""Tier two (as in gh) for `authcli logout`: run(opts, ctx) with IOStreams.test(), a dict store and
a fake flow -> stdout, stderr, exit code; what the server was told and what the store keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.logout import LogoutOptions, run
from authcli.config import Profile
from authcli.errors import AuthcliError, CorruptRecord, KeyringUnavailable, NetworkError
from authcli.tokens import TokenRecord
from tests.fakes import make_ctx, outcome, profile, record

TWO = [profile("a"), profile("b")]


@dataclass
class Case:
    opts: LogoutOptions
    code: int
    err: str
    profiles: list[Profile] | None = field(default_factory=lambda: [profile()])
    records: dict[str, TokenRecord] = field(default_factory=lambda: {"default": record()})
    unreadable: dict[str, AuthcliError] = field(default_factory=dict)
    fail: AuthcliError | None = None
    logouts: list[Any] = field(default_factory=list)
    told: list[str | None] = field(default_factory=list)  # refresh tokens the server was told to revoke
    left: list[str] = field(default_factory=list)  # profiles whose tokens remain


CASES = [
    pytest.param(Case(LogoutOptions(), 0, "Logged out of profile 'default'.\n", told=["refresh-1"]),
                 id="revoked and deleted"),
    pytest.param(Case(LogoutOptions("b"), 0, "Logged out of profile 'b'.\n", profiles=TWO,
                      records={"a": record("A", "ra"), "b": record("B", "rb")}, told=["rb"], left=["a"]),
                 id="a named profile, only it"),
    pytest.param(Case(LogoutOptions(), 0, "Not logged in.\n", profiles=None, records={}),
                 id="no config: nothing to do"),
    pytest.param(Case(LogoutOptions(), 0, "Not logged in (profile 'default').\n", records={}),
                 id="a profile without a session"),
    pytest.param(Case(LogoutOptions(), 0,
                      "authcli: warning: could not tell the server (cannot reach api.example.com); deleting the "
                      "local tokens anyway\nLogged out of profile 'default'.\n",
                      logouts=[NetworkError("cannot reach api.example.com")], told=["refresh-1"]),
                 id="server unreachable: tokens deleted anyway, with a warning"),
    pytest.param(Case(LogoutOptions(), 0, "Logged out of profile 'default'.\n",
                      records={"default": record(origin="https://old.example.com:443")}),
                 id="a session of another origin is deleted, never sent there"),
    pytest.param(Case(LogoutOptions(), 0, "Logged out of profile 'default'.\n",
                      unreadable={"default": CorruptRecord("unreadable")}),
                 id="an unreadable record is deleted without a server call"),
    pytest.param(Case(LogoutOptions(all=True), 0, "Logged out of profile 'a'.\nNot logged in (profile 'b').\n",
                      profiles=TWO, records={"a": record("A", "ra")}, told=["ra"]),
                 id="all"),
    pytest.param(Case(LogoutOptions(all=True), 0, "Not logged in.\n", profiles=[], records={}),
                 id="all, with no profiles"),
    # errors
    pytest.param(Case(LogoutOptions("x"), 2,
                      "authcli: unknown profile 'x' (known: default); create it with authcli login --profile x\n",
                      left=["default"]),
                 id="unknown profile"),
    pytest.param(Case(LogoutOptions(), 6, "authcli: the keyring is locked\n",
                      fail=KeyringUnavailable("the keyring is locked"), left=["default"]),
                 id="store unavailable"),
    pytest.param(Case(LogoutOptions(all=True), 6,
                      "authcli: warning: profile 'a': the keyring is locked\n"
                      "authcli: warning: profile 'b': the keyring is locked\n"
                      "authcli: the keyring is locked (no profile was logged out)\n",
                      profiles=TWO, records={"a": record("A", "ra")},
                      fail=KeyringUnavailable("the keyring is locked"), left=["a"]),
                 id="all: each failure warned, the first one's exit code"),
    pytest.param(Case(LogoutOptions(all=True), 6,
                      "authcli: warning: profile 'a': the keyring is locked\n"
                      "Logged out of profile 'b'.\n"
                      "authcli: the keyring is locked (the other profiles were logged out)\n",
                      profiles=TWO, records={"a": record("A", "ra"), "b": record("B", "rb")},
                      unreadable={"a": KeyringUnavailable("the keyring is locked")}, told=["rb"], left=["a"]),
                 id="all: one fails, the others are logged out"),
    pytest.param(Case(LogoutOptions(all=True), 6, "authcli: warning: profile 'a': the keyring is locked\n"
                      "authcli: the keyring is locked\n",
                      profiles=[profile("a")], records={"a": record("A", "ra")},
                      fail=KeyringUnavailable("the keyring is locked"), left=["a"]),
                 id="all, one profile: its failure as it is"),
]


@pytest.mark.parametrize("case", CASES)
def test_logout(tmp_path: Path, case: Case) -> None:
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records)
    ctx.store_.unreadable = dict(case.unreadable)
    ctx.store_.fail = case.fail
    ctx.flow_.logouts = list(case.logouts)
    assert outcome(run, case.opts, ctx) == (case.code, "", case.err)
    assert [token for call, token in ctx.flow_.calls if call == "logout"] == case.told
    assert sorted(ctx.store_.records) == case.left
    assert set(ctx.store_.unreadable) <= set(case.left)  # what could not be read is kept, or gone with its record
