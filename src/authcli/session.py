"""The refresh engine: the one way any command gets a valid access token.

Fast path: read the stored record without a lock; if the access token has more than the
refresh margin left (and is not the one the caller saw rejected), return it. Nothing heavy
is imported on that path.

Slow path: take the profile's cross-process lock, RE-READ the record (another process may
have refreshed while we waited), recheck, and only then refresh with the re-read refresh
token, persist the result, and release. So N processes that find the token expired at the
same moment cause exactly one refresh at the server. While waiting for the lock, a process
keeps looking at the store and leaves as soon as a usable token appears there, so the
others do not queue for the lock one by one after the refresh is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from .claims import humanize
from .errors import AuthError, Fenced, LockTimeout, NotLoggedIn, SessionExpired, StorageError, UsageError
from .rules import fresh
from .tokens import TokenRecord
from .urls import origin_str

if TYPE_CHECKING:
    from .config import Profile
    from .flows import Flow
    from .stores.base import Store

REPLAY_PAUSE = 0.5
SAVE_ATTEMPTS = 4  # over about 1.5 s, or the store's save_patience if longer
SAVE_PAUSE = 0.25
PAUSE_ENV = "AUTHCLI_TEST_PAUSE_AT"


class Messages(Protocol):
    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


class Needs(Protocol):
    """What the engine needs of a command's context (context.Context; the unit tests' fake)."""

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def io(self) -> Messages: ...

    def clock(self) -> float: ...

    def store(self, profile: Profile) -> Store: ...

    def flow(self, profile: Profile, api_origin: str) -> Flow: ...

    def lock(self, profile: Profile, ready: Callable[[], bool] | None = None) -> AbstractContextManager[bool]: ...


def login_hint(profile: str) -> str:
    return "authcli login" if profile == "default" else f"authcli login --profile {profile}"


class Session:
    def __init__(self, ctx: Needs, profile: Profile) -> None:
        if not profile.api_url:
            raise UsageError(f"profile '{profile.name}' has no api_url; run {login_hint(profile.name)} --api-url URL")
        self.ctx = ctx
        self.profile = profile
        self.store = ctx.store(profile)
        self.api_origin = origin_str(profile.api_url)

    # -- reading -----------------------------------------------------------------

    def load(self) -> TokenRecord | None:
        record = self.store.load(self.profile.name)
        if record is not None and record.api_origin != self.api_origin:
            # The profile was pointed elsewhere after login: this token must not go there.
            raise AuthError(
                f"profile '{self.profile.name}' now points at {self.api_origin} but its session belongs to "
                f"{record.api_origin}; run {login_hint(self.profile.name)}"
            )
        return record

    def _require(self) -> TokenRecord:
        record = self.load()
        if record is None:
            raise NotLoggedIn(f"not logged in; run {login_hint(self.profile.name)}")
        return record

    # -- the engine --------------------------------------------------------------

    def access_token(self, min_ttl: float = 0.0, rejected: str | None = None) -> str:
        """A valid access token with at least ``min_ttl`` seconds (and the refresh margin) left.

        ``rejected``: a token the API just answered 401 to; the caller wants any other one.
        """
        return self.valid_record(min_ttl, rejected).access_token

    def valid_record(self, min_ttl: float = 0.0, rejected: str | None = None) -> TokenRecord:
        """The record whose access token access_token() hands out (for its expiry and type)."""
        record = self._require()
        self._check_min_ttl(record, min_ttl)
        if self.usable(record, min_ttl, rejected):
            return record
        from .deadline import paused

        with paused():  # waiting for a sibling's refresh is not the server's time
            return self._valid_record_locked(min_ttl, rejected)

    def _valid_record_locked(self, min_ttl: float, rejected: str | None) -> TokenRecord:
        found: list[TokenRecord] = []

        def refreshed_meanwhile() -> bool:
            # Another process refreshed while we wait: take its token and never queue for the lock.
            current = self.load()
            if current is not None and self.usable(current, min_ttl, rejected):
                found.append(current)
                return True
            return False

        with self.ctx.lock(self.profile, ready=refreshed_meanwhile) as held:
            if not held:
                return found[0]
            # Processes of this machine queue on the file lock; one of them asks the fleet's.
            with self.store.lease(self.profile.name, self.profile.lock_timeout, ready=refreshed_meanwhile) as leased:
                if not leased:
                    return found[0]
                record = self._require()
                if self.usable(record, min_ttl, rejected):
                    return record
                return self._refresh_locked(record, rejected)

    def refresh_now(self) -> TokenRecord:
        """Refresh unconditionally (single-flight: one refresh even when many ask at once)."""
        from .deadline import paused

        before = self._require()
        with paused(), self.ctx.lock(self.profile), self.store.lease(self.profile.name, self.profile.lock_timeout):
            record = self._require()
            if record.refresh_token != before.refresh_token:
                return record  # another process refreshed while we waited for the lock
            if not self.ctx.flow(self.profile, self.api_origin).can_renew(record):
                # Nothing to refresh with is no verdict on the session: it stays as it is.
                left = record.seconds_left(self.ctx.clock())
                state = "with an unknown expiry" if left is None else (
                    f"which expires {humanize(left)}" if left > 0 else f"which {humanize(left)}")
                raise AuthError(f"profile '{self.profile.name}' holds no refresh token to refresh with; the session "
                                f"is kept, {state}; run {login_hint(self.profile.name)} to extend it")
            return self._refresh_locked(record, rejected=record.access_token)

    def _check_min_ttl(self, record: TokenRecord, min_ttl: float) -> None:
        lifetime = record.lifetime
        if lifetime is not None and min_ttl >= lifetime > 0:
            raise UsageError(
                f"--min-ttl {min_ttl:g} cannot be met: this API issues access tokens valid for {lifetime:g}s"
            )

    def usable(self, record: TokenRecord, min_ttl: float, rejected: str | None) -> bool:
        if rejected is not None and record.access_token == rejected:
            return False
        return fresh(record.expires_at, record.obtained_at, self.ctx.clock(), min_ttl)

    def _refresh_locked(self, record: TokenRecord, rejected: str | None) -> TokenRecord:
        """Refresh ``record`` (re-read under the lock). Only call with the profile lock held."""
        from .flows import RefreshMalformed, RefreshRefused, RefreshRejected, RefreshTransient

        name = self.profile.name
        flow = self.ctx.flow(self.profile, self.api_origin)
        if not flow.can_renew(record):
            if rejected is None and record.valid_for(self.ctx.clock()):
                return record  # nothing to refresh with; use what is left of it
            self.store.delete(name)
            raise SessionExpired(f"session expired, run {login_hint(name)}")
        # A refresh token is single-use: spend it only when its successor can be kept, and only
        # while the fleet's lease is still ours (a process stopped past it re-reads instead).
        self.store.check_writable(name, record)
        self._test_pause("before-refresh")
        if not self.store.confirm(name):
            now = self._require()
            if now.refresh_token != record.refresh_token or self.usable(now, 0.0, rejected):
                return now
            raise LockTimeout(f"lost the lease on {self.store.location(name)} before refreshing (this process "
                              "was held up); try again")
        try:
            try:
                fresh = flow.refresh(record)
            except RefreshTransient:
                # A replay with the same token cannot make things worse than giving up.
                time.sleep(REPLAY_PAUSE)
                fresh = flow.refresh(record)
        except RefreshRejected:
            current = self.store.load(name)
            if current is not None and current.refresh_token != record.refresh_token:
                return current  # another writer rotated it meanwhile: adopt its tokens
            self.store.delete(name)
            raise SessionExpired(f"session expired, run {login_hint(name)}") from None
        except (RefreshTransient, RefreshMalformed, RefreshRefused) as exc:
            # No verdict on the grant: the session stays as it is, whatever this attempt met.
            left = record.seconds_left(self.ctx.clock())
            if rejected is None and record.valid_for(self.ctx.clock()):
                when = "with an unknown expiry" if left is None else f"which expires {humanize(left)}"
                self.ctx.io.warn(f"could not refresh ({exc.message}); using the current token, {when}")
                return record
            raise
        self._test_pause("before-save")
        return self._keep(fresh, record)

    def _test_pause(self, point: str) -> None:
        """Test-only (AUTHCLI_TEST_PAUSE_AT=POINT[:SECONDS], default 3 s): hold still at
        ``point`` so that a test can stop this process exactly there with SIGSTOP."""
        from .testswitch import switch

        where, _, seconds = (switch(self.ctx.env, PAUSE_ENV) or "").partition(":")
        if where == point:
            self.ctx.io.info(f"authcli: test: pausing {point}")
            time.sleep(float(seconds or 3))

    def _keep(self, fresh: TokenRecord, spent: TokenRecord) -> TokenRecord:
        """Save a refreshed record; the refresh token it replaces is spent, so try hard. A store
        shared by a fleet refuses when another machine saved a newer record meanwhile: theirs
        is the session now."""
        give_up = time.monotonic() + self.store.save_patience
        attempt = 0
        while True:
            try:
                self.store.save(self.profile.name, fresh, replaces=spent)
                return fresh
            except Fenced as exc:
                self.ctx.io.warn(exc.message)
                return self._require()
            except StorageError as exc:
                attempt += 1
                if attempt >= SAVE_ATTEMPTS and time.monotonic() >= give_up:
                    raise StorageError(
                        f"the session was refreshed but the new tokens could not be saved ({exc.message}); "
                        f"the server has spent the old refresh token: run {login_hint(self.profile.name)}"
                    ) from None
                time.sleep(min(SAVE_PAUSE * attempt, 1.0))
