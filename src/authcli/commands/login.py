"""authcli login: sign in and keep the tokens in the store."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import Profile, effective, storage_for
from ..context import Context
from ..errors import CorruptRecord, StorageError, UsageError
from ..session import Session
from ..store import check_profile_name, make_store
from ..urls import check_api_url


@dataclass
class LoginOptions:
    profile: str | None = None
    api_url: str | None = None
    email: str | None = None
    password_stdin: bool = False
    storage: str | None = None


def _prompt(ctx: Context, label: str) -> str:
    ctx.io.stderr.write(f"{label}: ")
    ctx.io.stderr.flush()
    line = ctx.io.stdin.readline()
    if not line:
        raise UsageError(f"no {label.lower()} given")
    return line.strip()


def _password(opts: LoginOptions, ctx: Context) -> str:
    if opts.password_stdin:
        password = ctx.io.stdin.read()
        if password.endswith("\n"):
            password = password[:-1]
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise UsageError("--password-stdin: nothing was read from standard input")
        return password
    if ctx.io.can_prompt:
        import getpass

        return getpass.getpass("Password: ", stream=ctx.io.stderr)
    raise UsageError("no password: pipe it in with --password-stdin, or run authcli login in a terminal")


def run(opts: LoginOptions, ctx: Context) -> int:
    config = ctx.config
    name = check_profile_name(opts.profile or config.default_name(ctx.env))
    existing = config.profiles.get(name) or Profile(name=name)

    api_url = opts.api_url or ctx.env.get("AUTHCLI_API_URL") or existing.api_url
    if not api_url:
        if not ctx.io.can_prompt:
            raise UsageError(f"no API URL for profile '{name}': pass --api-url URL")
        api_url = _prompt(ctx, "API URL")
    api_url = check_api_url(api_url)
    storage = storage_for(existing, ctx.env, opts.storage)
    saved = replace(existing, api_url=api_url, storage=storage)
    profile = effective(saved, ctx.env, storage_flag=storage)
    session = Session(ctx, profile)
    try:
        session.store.load(name)  # a missing or locked keyring fails now, before any prompt
    except CorruptRecord:
        pass  # about to be replaced

    email = opts.email
    if not email:
        if not ctx.io.can_prompt:
            raise UsageError("no email: pass --email EMAIL")
        email = _prompt(ctx, "Email")
    password = _password(opts, ctx)

    with ctx.lock(profile):
        record = ctx.flow(profile, session.api_origin).login(email, password)
        session.store.save(name, record)
        if name in config.profiles and existing.storage != storage:
            _forget_old_copy(ctx, existing, name)
        config.profiles[name] = saved
        config.save()

    if storage == "file":
        ctx.io.warn(
            f"tokens for profile '{name}' are stored in {session.store.location(name)}, "
            "protected only by file permissions"
        )
    ctx.io.info(f"Logged in to {api_url} as {email} (profile '{name}', {storage} storage)")
    return 0


def _forget_old_copy(ctx: Context, old: Profile, name: str) -> None:
    """The profile moved to another store: the tokens there are stale and must not linger."""
    try:
        make_store(old.storage, ctx.paths, ctx.env).delete(name)
    except StorageError as exc:
        ctx.io.warn(f"could not delete the old tokens from {old.storage} storage: {exc.message}")
