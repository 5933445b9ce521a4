"""The refresh engine's decisions, with a fake store, flow and clock (pure logic only;
the real-process versions of these cases live in tests/integration/test_refresh.py)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from authcli import session as session_mod
from authcli.config import Profile
from authcli.errors import (
    AuthError,
    Fenced,
    LockTimeout,
    NetworkError,
    NotLoggedIn,
    SessionExpired,
    StorageError,
    UsageError,
)
from authcli.flows import RefreshMalformed, RefreshRejected, RefreshTransient
from authcli.iostreams import IOStreams
from authcli.session import Session
from authcli.stores.base import LocalStore
from authcli.tokens import TokenRecord

ORIGIN = "https://api.example.com:443"
NOW = 10_000.0


def rec(access: str, refresh: str | None = "R1", expires_in: float | None = 600.0, lifetime: float = 600.0) -> TokenRecord:
    expires_at = None if expires_in is None else NOW + expires_in
    obtained = NOW - (lifetime - expires_in) if expires_in is not None else NOW
    return TokenRecord(access, refresh, expires_at, obtained, ORIGIN)


@dataclass
class FakeStore(LocalStore):
    record: TokenRecord | None
    kind: str = "fake"
    saves: list[TokenRecord] = field(default_factory=list)
    # What a sibling process writes while we wait for the lock (applied on the locked re-read).
    sibling_write: TokenRecord | None = None
    loads: int = 0
    unwritable: bool = False  # check_writable fails (a full disk)
    failing_saves: int = 0  # this many saves fail before one succeeds
    # A fleet's store: whether the lease is still held, and what another machine does to a save.
    lease_held: Callable[[str], bool] = lambda profile: True
    before_save: Callable[[TokenRecord], None] = lambda record: None

    def load(self, profile: str) -> TokenRecord | None:
        self.loads += 1
        return self.record

    def confirm(self, profile: str) -> bool:
        return self.lease_held(profile)

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        self.before_save(record)
        if self.failing_saves:
            self.failing_saves -= 1
            raise StorageError("cannot write token file x: No space left on device")
        self.saves.append(record)
        self.record = record

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        if self.unwritable:
            raise StorageError("cannot write token file x: No space left on device; the session was not refreshed")

    def delete(self, profile: str) -> bool:
        had = self.record is not None
        self.record = None
        return had

    def location(self, profile: str) -> str:
        return "fake"


@dataclass
class FakeFlow:
    outcomes: list[Any]
    seen: list[str | None] = field(default_factory=list)
    on_refresh: Any = None

    def login(self, user: str | None, password: str | None, secret: str | None = None) -> TokenRecord:
        raise AssertionError("the engine never logs in")

    def can_renew(self, record: TokenRecord) -> bool:
        return record.refresh_token is not None

    def refresh(self, record: TokenRecord) -> TokenRecord:
        self.seen.append(record.refresh_token)
        if self.on_refresh:
            self.on_refresh()
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, TokenRecord)
        return outcome

    def logout(self, record: TokenRecord) -> None:
        pass


@dataclass
class FakeCtx:
    store_: FakeStore
    flow_: FakeFlow
    io: IOStreams = field(default_factory=IOStreams.test)
    locked: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def clock(self) -> float:
        return NOW

    def store(self, profile: Profile) -> FakeStore:
        return self.store_

    def flow(self, profile: Profile, api_origin: str) -> FakeFlow:
        return self.flow_

    held_elsewhere: bool = False  # another process holds the lock for the whole call

    @contextmanager
    def lock(self, profile: Profile, ready: Any = None) -> Iterator[bool]:
        self.locked += 1
        if self.store_.sibling_write is not None:
            self.store_.record = self.store_.sibling_write
        if self.held_elsewhere:
            assert ready is not None and ready(), "would wait forever"
            yield False
            return
        yield True


@pytest.fixture(autouse=True)
def no_replay_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "REPLAY_PAUSE", 0)


def make(record: TokenRecord | None, *outcomes: Any, sibling: TokenRecord | None = None,
         name: str = "default") -> tuple[Session, FakeCtx]:
    ctx = FakeCtx(FakeStore(record, sibling_write=sibling), FakeFlow(list(outcomes)))
    return Session(ctx, Profile(name=name, api_url="https://api.example.com")), ctx


NEW = rec("A2", "R2")


@dataclass
class Case:
    name: str
    stored: TokenRecord | None
    outcomes: list[Any]
    rejected: str | None = None
    sibling: TokenRecord | None = None
    token: str | None = None            # expected token, or
    error: type[Exception] | None = None  # expected error
    refreshes: int = 0
    stored_after: str | None = "same"   # access token stored afterwards ("same" = unchanged, None = deleted)
    locked: bool = True


CASES = [
    Case("fresh token: fast path, no lock", rec("A1"), [], token="A1", locked=False),
    Case("inside the margin: refresh", rec("A1", expires_in=20), [NEW], token="A2", refreshes=1, stored_after="A2"),
    Case("expired: refresh", rec("A1", expires_in=-5), [NEW], token="A2", refreshes=1, stored_after="A2"),
    Case("sibling refreshed while we waited: reuse, no network", rec("A1", expires_in=-5), [],
         sibling=NEW, token="A2", stored_after="A2"),
    Case("rejected token, sibling already has another: no network", rec("A2", "R2"), [], rejected="A1",
         token="A2", locked=False),
    Case("rejected token is the stored one: refresh", rec("A1"), [NEW], rejected="A1", token="A2",
         refreshes=1, stored_after="A2"),
    Case("server sent no new refresh token: keep the old", rec("A1", expires_in=-5),
         [TokenRecord("A2", "R1", NOW + 600, NOW, ORIGIN)], token="A2", refreshes=1, stored_after="A2"),
    Case("invalid_grant: session over, tokens deleted", rec("A1", expires_in=-5), [RefreshRejected("invalid_grant")],
         error=SessionExpired, refreshes=1, stored_after=None),
    Case("transient, then success on the replay", rec("A1", expires_in=-5), [RefreshTransient("502"), NEW],
         token="A2", refreshes=2, stored_after="A2"),
    Case("transient twice: tokens kept, exit 5", rec("A1", expires_in=-5),
         [RefreshTransient("502"), RefreshTransient("502")], error=NetworkError, refreshes=2),
    Case("transient twice but the current token still works", rec("A1", expires_in=20),
         [RefreshTransient("502"), RefreshTransient("502")], token="A1", refreshes=2),
    Case("malformed answer: tokens kept, exit 5", rec("A1", expires_in=-5), [RefreshMalformed("html")],
         error=NetworkError, refreshes=1),
    Case("no refresh token and expired: session over", rec("A1", None, expires_in=-5), [],
         error=SessionExpired, stored_after=None),
    Case("no refresh token but still valid: use it", rec("A1", None, expires_in=20), [], token="A1"),
    Case("not logged in", None, [], error=NotLoggedIn, stored_after=None, locked=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_engine(case: Case) -> None:
    session, ctx = make(case.stored, *case.outcomes, sibling=case.sibling)
    if case.error:
        with pytest.raises(case.error) as info:
            session.access_token(rejected=case.rejected)
        assert isinstance(getattr(info.value, "exit_code", None), int)
    else:
        assert session.access_token(rejected=case.rejected) == case.token
    assert len(ctx.flow_.seen) == case.refreshes
    after = ctx.store_.record
    if case.stored_after == "same":
        assert after == (case.sibling or case.stored)
    elif case.stored_after is None:
        assert after is None
    else:
        assert after is not None and after.access_token == case.stored_after
    assert bool(ctx.locked) == case.locked


def test_refresh_uses_the_token_read_under_the_lock() -> None:
    # We read R1 without the lock; a sibling rotated to R2 but its access token is already stale too.
    stale_sibling = rec("A2", "R2", expires_in=-1)
    session, ctx = make(rec("A1", "R1", expires_in=-5), rec("A3", "R3"), sibling=stale_sibling)
    assert session.access_token() == "A3"
    assert ctx.flow_.seen == ["R2"]


def test_rejected_refresh_adopts_a_sibling_rotation() -> None:
    session, ctx = make(rec("A1", "R1", expires_in=-5), RefreshRejected("invalid_grant"))
    ctx.flow_.on_refresh = lambda: setattr(ctx.store_, "record", NEW)  # another writer, e.g. lock disabled
    assert session.access_token() == "A2"
    assert ctx.store_.record == NEW


def test_session_expired_message_names_the_profile() -> None:
    session, _ = make(rec("A1", expires_in=-5), RefreshRejected("x"), name="staging")
    with pytest.raises(SessionExpired, match="session expired, run authcli login --profile staging"):
        session.access_token()


def test_min_ttl_forces_an_early_refresh_and_is_bounded() -> None:
    session, ctx = make(rec("A1", expires_in=200), NEW)
    assert session.access_token(min_ttl=300) == "A2"
    with pytest.raises(UsageError, match="cannot be met"):
        session.access_token(min_ttl=601)


def test_token_for_another_origin_is_never_used() -> None:
    session, _ = make(TokenRecord("A1", "R1", NOW + 600, NOW, "https://other.example.com:443"))
    with pytest.raises(AuthError, match="now points at"):
        session.access_token()


def test_refresh_now_is_single_flight() -> None:
    session, ctx = make(rec("A1"), NEW)
    assert session.refresh_now().access_token == "A2"
    session2, ctx2 = make(rec("A1"), sibling=NEW)
    assert session2.refresh_now().access_token == "A2"
    assert ctx2.flow_.seen == []


def test_waiter_takes_a_siblings_token_without_the_lock() -> None:
    session, ctx = make(rec("A1", expires_in=-5), sibling=NEW)
    ctx.held_elsewhere = True
    assert session.access_token() == "A2"
    assert ctx.flow_.seen == []


def test_waiter_ignores_a_sibling_token_that_is_the_rejected_one() -> None:
    session, ctx = make(rec("A1"), sibling=rec("A1"))
    ctx.held_elsewhere = True
    with pytest.raises(AssertionError, match="would wait forever"):
        session.access_token(rejected="A1")


@pytest.fixture
def no_save_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "SAVE_PAUSE", 0)


def test_an_unwritable_store_stops_the_refresh_before_the_token_is_spent() -> None:
    session, ctx = make(rec("A1", expires_in=-1), NEW)
    ctx.store_.unwritable = True
    with pytest.raises(StorageError, match="not refreshed"):
        session.access_token()
    assert ctx.flow_.seen == [] and ctx.store_.record == rec("A1", expires_in=-1)


@pytest.mark.usefixtures("no_save_pause")
def test_a_failed_save_after_the_refresh_is_retried() -> None:
    session, ctx = make(rec("A1", expires_in=-1), NEW)
    ctx.store_.failing_saves = session_mod.SAVE_ATTEMPTS - 1
    assert session.access_token() == "A2"
    assert ctx.store_.saves == [NEW]


@pytest.mark.usefixtures("no_save_pause")
def test_a_save_that_keeps_failing_says_what_failed() -> None:
    session, ctx = make(rec("A1", expires_in=-1), NEW)
    ctx.store_.failing_saves = session_mod.SAVE_ATTEMPTS
    with pytest.raises(StorageError, match="refreshed but the new tokens could not be saved .*No space left"):
        session.access_token()
    assert ctx.flow_.seen == ["R1"]


# -- a store shared by machines (stores/redis.py): the lease lost, the save fenced ---------------

def test_a_lost_lease_rereads_instead_of_spending_the_refresh_token() -> None:
    session, ctx = make(rec("A1", expires_in=-1), NEW)
    ctx.store_.lease_held = lambda profile: False
    ctx.store_.sibling_write = None
    ctx.store_.record = rec("A1", expires_in=-1)
    with pytest.raises(LockTimeout, match="lost the lease"):
        session.access_token()
    assert ctx.flow_.seen == []  # never presented


def test_a_lost_lease_takes_what_another_machine_saved() -> None:
    session, ctx = make(rec("A1", expires_in=-1), NEW)
    stale = rec("A1", expires_in=-1)

    def lost(profile: str) -> bool:
        ctx.store_.record = NEW  # another machine refreshed while this one was stopped
        return False

    ctx.store_.lease_held = lost
    assert session.access_token() == "A2" and ctx.flow_.seen == []
    assert ctx.store_.record is NEW and stale != NEW


def test_a_fenced_save_keeps_the_newer_record_and_says_so() -> None:
    newer = rec("A9", refresh="R9")
    session, ctx = make(rec("A1", expires_in=-1), NEW)

    def fenced(record: TokenRecord) -> None:
        ctx.store_.record = newer
        raise Fenced("another machine changed the session at fake")

    ctx.store_.before_save = fenced
    assert session.access_token() == "A9"
    assert isinstance(ctx.io.stderr, io.StringIO)
    assert "another machine changed the session" in ctx.io.stderr.getvalue()
