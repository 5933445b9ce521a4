"""authcli logout: tell the server (best effort) and delete the stored tokens."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Profile, effective
from ..context import Context
from ..errors import AuthcliError, CorruptRecord, NetworkError, NotLoggedIn
from ..urls import origin_str


@dataclass
class LogoutOptions:
    profile: str | None = None
    all: bool = False


def end_session(ctx: Context, profile: Profile) -> bool:
    """Revoke (best effort) and delete the profile's tokens, under its lock. True if any were stored."""
    store = ctx.store(profile)
    with ctx.lock(profile):
        try:
            record = store.load(profile.name)
        except CorruptRecord:
            record = None  # unreadable: nothing to revoke, but still delete it
        if record is not None and profile.api_url and record.api_origin == origin_str(profile.api_url):
            try:
                ctx.flow(profile, record.api_origin).logout(record)
            except NetworkError as exc:
                ctx.io.warn(f"could not tell the server ({exc.message}); deleting the local tokens anyway")
        return store.delete(profile.name)


def run(opts: LogoutOptions, ctx: Context) -> int:
    if opts.all:
        profiles = [effective(p, ctx.env) for p in ctx.config.profiles.values()]
    else:
        try:
            # Not ctx.profile: a profile whose api_url was hand-edited badly can still be logged
            # out of (end_session tells the server only at the record's own origin).
            profiles = [effective(ctx.config.resolve(opts.profile, ctx.env), ctx.env)]
        except NotLoggedIn:
            profiles = []
    if not profiles:
        ctx.io.info("Not logged in.")
    failed: list[AuthcliError] = []
    for profile in profiles:
        try:
            ended = end_session(ctx, profile)
        except AuthcliError as exc:
            if not opts.all:
                raise
            # One broken profile must not keep the others' sessions alive.
            ctx.io.warn(f"profile '{profile.name}': {exc.message}")
            failed.append(exc)
            continue
        if ended:
            ctx.io.info(f"Logged out of profile '{profile.name}'.")
        else:
            ctx.io.info(f"Not logged in (profile '{profile.name}').")
    if failed:  # the first failure's exit code; the line says what became of the rest
        first = failed[0]
        if len(profiles) == 1:
            raise first
        rest = "no profile was logged out" if len(failed) == len(profiles) else "the other profiles were logged out"
        raise type(first)(f"{first.message} ({rest})")
    return 0
