"""Tier two (as in gh) for `authcli token`: run(opts, ctx) with IOStreams.test(), a dict store and
a fake flow -> stdout, stderr, exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.token import TokenOptions, run
from authcli.config import Profile
from authcli.errors import StorageError
from authcli.flows import RefreshRejected
from authcli.shortcut import SUMMARY
from authcli.tokens import TokenRecord
from tests.fakes import make_ctx, outcome, profile, record

EXPIRES = "2023-11-14T23:13:20Z"  # NOW + 3600
FRESH = record("access-2", "refresh-2", expires_in=7200.0)


@dataclass
class Case:
    opts: TokenOptions
    code: int
    out: str = ""
    err: str = ""
    profiles: list[Profile] | None = field(default_factory=lambda: [profile()])
    records: dict[str, TokenRecord] = field(default_factory=lambda: {"default": record()})
    refreshes: list[Any] = field(default_factory=list)
    stored: str | None = "access-1"  # the access token the store holds afterwards


CASES = [
    pytest.param(Case(TokenOptions(), 0, "access-1\n"), id="a valid token, bare"),
    pytest.param(Case(TokenOptions(format="json"), 0,
                      f'{{"access_token": "access-1", "token_type": "Bearer", "expires_at": "{EXPIRES}"}}\n'),
                 id="json"),
    pytest.param(Case(TokenOptions(format="exec-credential"), 0,
                      '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "spec": {}, '
                      f'"status": {{"token": "access-1", "expirationTimestamp": "{EXPIRES}"}}}}\n'),
                 id="exec-credential"),
    pytest.param(Case(TokenOptions(format="exec-credential"), 0,
                      '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "spec": {}, '
                      '"status": {"token": "opaque"}}\n',
                      records={"default": record("opaque", expires_in=None)}, stored="opaque"),
                 id="exec-credential without an expiry"),
    pytest.param(Case(TokenOptions(format="curl-config"), 0, 'header = "Authorization: Bearer a\\\\b\\"c"\n',
                      records={"default": record('a\\b"c')}, stored='a\\b"c'),
                 id="curl-config quotes the token"),
    pytest.param(Case(TokenOptions(profile="ci"), 0, "ci-token\n", profiles=[profile(), profile("ci")],
                      records={"ci": record("ci-token")}, stored="ci-token"),
                 id="a named profile"),
    pytest.param(Case(TokenOptions(), 0, "access-2\n", records={"default": record(expires_in=-10)},
                      refreshes=[FRESH], stored="access-2"),
                 id="expired: refreshed once, the new token printed and kept"),
    pytest.param(Case(TokenOptions(min_ttl=3650), 0, "access-2\n", refreshes=[FRESH], stored="access-2"),
                 id="min-ttl asks for a fresher token"),
    # errors
    pytest.param(Case(TokenOptions(), 4, err="authcli: not logged in; run authcli login --api-url URL\n",
                      profiles=None, records={}, stored=None),
                 id="no config: not logged in"),
    pytest.param(Case(TokenOptions(), 4, err="authcli: not logged in; run authcli login\n", records={}, stored=None),
                 id="a profile without a session"),
    pytest.param(Case(TokenOptions(profile="ci"), 4, err="authcli: not logged in; run authcli login --profile ci\n",
                      profiles=[profile("ci")], records={}, stored=None),
                 id="a named profile without a session"),
    pytest.param(Case(TokenOptions(profile="nope"), 2,
                      err="authcli: unknown profile 'nope' (known: default); create it with authcli login "
                          "--profile nope\n", stored=None),
                 id="unknown profile"),
    pytest.param(Case(TokenOptions(), 4, err="authcli: session expired, run authcli login\n",
                      records={"default": record(expires_in=-10)}, refreshes=[RefreshRejected("invalid_grant")],
                      stored=None),
                 id="refresh rejected: session over, tokens deleted"),
    pytest.param(Case(TokenOptions(), 4,
                      err="authcli: profile 'default' now points at https://api.example.com:443 but its session "
                          "belongs to https://old.example.com:443; run authcli login\n",
                      records={"default": record(origin="https://old.example.com:443")}, stored="access-1"),
                 id="a session for another origin is never sent"),
    pytest.param(Case(TokenOptions(min_ttl=-1), 2,
                      err="authcli: --min-ttl must be a finite number of seconds, zero or more\n"),
                 id="negative min-ttl"),
    pytest.param(Case(TokenOptions(min_ttl=float("inf")), 2,
                      err="authcli: --min-ttl must be a finite number of seconds, zero or more\n"),
                 id="infinite min-ttl"),
    pytest.param(Case(TokenOptions(min_ttl=5000), 2,
                      err="authcli: --min-ttl 5000 cannot be met: this API issues access tokens valid for 3700s\n"),
                 id="min-ttl beyond the token lifetime"),
    pytest.param(Case(TokenOptions(format="yaml"), 2,
                      err="authcli: unknown --format 'yaml': use token, json, exec-credential or curl-config\n"),
                 id="unknown format"),
    pytest.param(Case(TokenOptions(), 2,
                      err="authcli: profile 'default' holds DPoP-bound tokens, which are useless without a proof "
                          "signed by its key: use authcli call, proxy or exec, or --format json for the token and "
                          "its type\n",
                      profiles=[profile(dpop=True)]),
                 id="dpop: no bare token"),
    pytest.param(Case(TokenOptions(format="json"), 0,
                      f'{{"access_token": "access-1", "token_type": "DPoP", "expires_at": "{EXPIRES}"}}\n',
                      profiles=[profile(dpop=True)], records={"default": record(token_type="DPoP")}),
                 id="dpop: json names the type"),
]


@pytest.mark.parametrize("case", CASES)
def test_token(tmp_path: Path, case: Case) -> None:
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records)
    ctx.flow_.refreshes = list(case.refreshes)
    assert outcome(run, case.opts, ctx) == (case.code, case.out, case.err)
    assert ctx.flow_.refreshes == [], "a refresh the case expected did not happen"
    kept = ctx.store_.records.get(case.opts.profile or "default")
    assert (kept.access_token if kept else None) == case.stored


def test_a_store_that_fails_is_exit_6(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "home", [profile()])
    ctx.store_.fail = StorageError("the keyring is locked")
    assert outcome(run, TokenOptions(), ctx) == (6, "", "authcli: the keyring is locked\n")


def test_the_first_command_to_read_a_config_leaves_the_summary(tmp_path: Path) -> None:
    """Context.config parses a config.toml the summary does not know, then writes the summary
    the shortcut and the next commands read (any command: here --format json)."""
    ctx = make_ctx(tmp_path / "home", [profile()], records={"default": record()})
    state = tmp_path / "home" / "state"
    state.mkdir(mode=0o700)
    assert run(TokenOptions(format="json"), ctx) == 0
    assert [p.name for p in state.iterdir()] == [SUMMARY]
