"""Tier two (as in gh) for `authcli refresh`: run(opts, ctx) with IOStreams.test(), a dict store and
a fake flow -> stdout, stderr, exit code, and what the store keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.refresh import RefreshOptions, run
from authcli.config import Profile
from authcli.flows import RefreshRefused, RefreshRejected, RefreshTransient
from authcli.tokens import TokenRecord
from tests.fakes import make_ctx, outcome, profile, record

FRESH = record("access-2", "refresh-2", expires_in=7200.0)


@dataclass
class Case:
    opts: RefreshOptions
    code: int
    err: str
    profiles: list[Profile] | None = field(default_factory=lambda: [profile()])
    records: dict[str, TokenRecord] = field(default_factory=lambda: {"default": record()})
    refreshes: list[Any] = field(default_factory=list)
    stored: str | None = "access-1"  # the access token kept afterwards
    spent: list[str | None] = field(default_factory=list)  # refresh tokens sent to the flow


CASES = [
    pytest.param(Case(RefreshOptions(), 0, "Refreshed: new access token expiring in 2h00m.\n",
                      refreshes=[FRESH], stored="access-2", spent=["refresh-1"]),
                 id="a valid session is refreshed anyway"),
    pytest.param(Case(RefreshOptions("ci"), 0, "Refreshed: new access token with an unknown expiry.\n",
                      profiles=[profile(), profile("ci")], records={"ci": record()},
                      refreshes=[record("access-2", "refresh-2", expires_in=None)], stored="access-2",
                      spent=["refresh-1"]),
                 id="a named profile, no expiry in the answer"),
    pytest.param(Case(RefreshOptions(), 0, "Refreshed: new access token expiring in 2h00m.\n",
                      records={"default": record(expires_in=-60)}, refreshes=[FRESH], stored="access-2",
                      spent=["refresh-1"]),
                 id="an expired session"),
    # errors
    pytest.param(Case(RefreshOptions(), 4, "authcli: not logged in; run authcli login --api-url URL\n",
                      profiles=None, records={}, stored=None),
                 id="no config: not logged in"),
    pytest.param(Case(RefreshOptions(), 4, "authcli: not logged in; run authcli login\n", records={}, stored=None),
                 id="no session"),
    pytest.param(Case(RefreshOptions("nope"), 2,
                      "authcli: unknown profile 'nope' (known: default); create it with authcli login --profile nope\n",
                      stored=None),
                 id="unknown profile"),
    pytest.param(Case(RefreshOptions(), 4, "authcli: session expired, run authcli login\n",
                      refreshes=[RefreshRejected("invalid_grant")], stored=None, spent=["refresh-1"]),
                 id="invalid_grant ends the session"),
    pytest.param(Case(RefreshOptions(), 4, "authcli: the server refused the refresh (invalid_client)\n",
                      refreshes=[RefreshRefused("the server refused the refresh (invalid_client)")],
                      spent=["refresh-1"]),
                 id="another refusal keeps the session"),
    pytest.param(Case(RefreshOptions(), 5, "authcli: HTTP 503 from the token endpoint\n",
                      refreshes=[RefreshTransient("HTTP 502"), RefreshTransient("HTTP 503 from the token endpoint")],
                      spent=["refresh-1", "refresh-1"]),
                 id="a transient failure is replayed once, then reported; the session is kept"),
]


@pytest.fixture(autouse=True)
def no_replay_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    from authcli import session

    monkeypatch.setattr(session, "REPLAY_PAUSE", 0)


@pytest.mark.parametrize("case", CASES)
def test_refresh(tmp_path: Path, case: Case) -> None:
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records)
    ctx.flow_.refreshes = list(case.refreshes)
    assert outcome(run, case.opts, ctx) == (case.code, "", case.err)
    assert [spent for call, spent in ctx.flow_.calls if call == "refresh"] == case.spent
    kept = ctx.store_.records.get(case.opts.profile or "default")
    assert (kept.access_token if kept else None) == case.stored


def test_refresh_without_a_refresh_token_keeps_the_valid_session(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "home", [profile()], records={"default": record(refresh=None)})
    code, out, err = outcome(run, RefreshOptions(), ctx)
    assert "default" in ctx.store_.records, (code, err)  # a token nobody rejected is still good
    assert "session expired" not in err
