"""authcli login: sign in and keep the tokens in the store."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..config import Profile, TokenSources, check_profile_name, effective, storage_for
from ..context import Context
from ..errors import AuthcliError, CorruptRecord, NotLoggedIn, StorageError, UsageError
from ..session import Session
from ..storagekey import spec_of
from ..stores import make_store
from ..tokens import record_account
from ..urls import check_api_url

if TYPE_CHECKING:
    from ..tokens import TokenRecord


@dataclass(frozen=True)
class LoginOptions(TokenSources):
    """`authcli login`'s options; the client-assertion and token-exchange sources are
    config.TokenSources', declared once for the options and the profile."""

    profile: str | None = None
    api_url: str | None = None
    email: str | None = None
    password_stdin: bool = False
    storage: str | None = None
    # OAuth 2.0 (any of these makes the profile an OAuth one)
    issuer: str | None = None
    client_id: str | None = None
    scope: str | None = None
    flow: str | None = None
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    client_auth: str | None = None
    client_secret_stdin: bool = False
    audience: str | None = None
    resource: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_endpoint: str | None = None
    redirect_port: int | None = None
    no_browser: bool = False
    browser_timeout: float = 300.0
    userinfo_endpoint: str | None = None
    redis_url: str | None = None
    redis_namespace: str | None = None
    join: bool = False
    redis_password_stdin: bool = False
    jwks_uri: str | None = None  # from discovery only: no flag
    dpop: bool = False
    replace: bool = False
    # --storage encrypted: where the key comes from (storagekey.py); at most one
    key_file: str | None = None
    new_key_file: str | None = None
    key_command: str | None = None
    passphrase: bool = False

    @property
    def oauth(self) -> bool:
        return any((self.issuer, self.client_id, self.token_endpoint, self.flow, self.client_secret_stdin, self.dpop,
                    self.client_key_file, self.client_assertion_file, self.client_assertion_env,
                    self.client_assertion_command, self.subject_token_file, self.subject_token_env,
                    self.subject_token_command))

    def sources(self, prefix: str) -> dict[str, str | None]:
        """The --<prefix>-file/-env/-command flags: kind -> value."""
        return {kind: getattr(self, f"{prefix}_{kind}") for kind in ("file", "env", "command")}


def _prompt(ctx: Context, label: str) -> str:
    ctx.io.stderr.write(f"{label}: ")
    ctx.io.stderr.flush()
    try:
        line = ctx.io.stdin.readline()
        line.encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise UsageError(f"the {label.lower()} typed is not UTF-8 text") from None
    if not line:
        raise UsageError(f"no {label.lower()} given")
    return line.strip()


def _stdin_secret(ctx: Context, flag: str) -> str:
    """A secret piped on stdin, without its line ending (`echo` adds one, `printf %s` does not)."""
    try:
        value = ctx.io.stdin.read()
        value.encode("utf-8")  # stdin may decode with surrogateescape: the bytes were not UTF-8
    except (UnicodeDecodeError, UnicodeEncodeError):
        # Never shown: the bytes are a secret, even when they are not text.
        raise UsageError(f"{flag}: standard input is not UTF-8 text") from None
    if value.endswith("\n"):
        value = value[:-1]
    if value.endswith("\r"):
        value = value[:-1]
    if not value:
        raise UsageError(f"{flag}: nothing was read from standard input")
    return value


def _password(opts: LoginOptions, ctx: Context) -> str:
    if opts.password_stdin:
        return _stdin_secret(ctx, "--password-stdin")
    if ctx.io.can_prompt:
        import getpass

        return getpass.getpass("Password: ", stream=ctx.io.stderr)  # type: ignore[arg-type]
    raise UsageError("no password: pipe it in with --password-stdin, or run authcli login in a terminal")


def default_grant(opts: LoginOptions, env: Mapping[str, str], platform: str) -> str:
    """The flow when neither --flow nor the profile names one.

    A user name or a piped password means the password grant. Otherwise the browser flow where
    a graphical browser can open (a desktop session, not over SSH), else the device flow, which
    needs no browser on this machine."""
    if opts.email or opts.password_stdin:
        return "password"
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return "device"
    if platform in ("darwin", "win32") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return "browser"
    return "device"


# The endpoints besides the token endpoint: profile field (and flag) -> how messages name it.
OPTIONAL_ENDPOINTS = {
    "revocation_endpoint": "revocation endpoint",
    "device_authorization_endpoint": "device authorization endpoint",
    "authorization_endpoint": "authorization endpoint",
    "userinfo_endpoint": "userinfo endpoint",
    "jwks_uri": "JWKS URI",
}


def _oauth_profile(opts: LoginOptions, ctx: Context, existing: Profile) -> Profile:
    """The profile's OAuth settings from flags, else what it had; endpoints from discovery."""
    from ..flows import clientauth, exchange
    from ..flows.oauth import discover, endpoint

    grant = opts.flow or existing.grant or default_grant(opts, ctx.env, sys.platform)
    if grant not in ("password", "client-credentials", "device", "browser", "token-exchange"):
        raise UsageError(f"unknown --flow {grant!r}: use browser, device, password, client-credentials "
                         "or token-exchange")
    if opts.redirect_port is not None and not 1 <= opts.redirect_port <= 65535:
        raise UsageError("--redirect-port must be between 1 and 65535")
    client_id = opts.client_id or existing.client_id
    if not client_id and grant != "token-exchange":  # an exchange may need no client at all
        raise UsageError("no OAuth client: pass --client-id ID")
    auth = clientauth.settings(existing, opts.client_auth, opts.client_key_file, opts.client_key_id,
                               opts.sources("client_assertion"), opts.client_secret_stdin)
    if auth["client_auth"] not in (None, "none") and not client_id:
        raise UsageError(f"client_auth {auth['client_auth']} needs a client: pass --client-id ID")
    exchanged = exchange.settings(existing, grant, opts.sources("subject_token"), opts.subject_token_type,
                                  opts.sources("actor_token"), opts.actor_token_type, opts.requested_token_type)
    issuer = opts.issuer or existing.issuer
    if issuer:
        issuer = endpoint(issuer, "--issuer")
    token_endpoint = opts.token_endpoint
    known: Mapping[str, Any] = {}  # where the endpoints not given as flags come from
    if not token_endpoint and issuer:
        # Discovery runs on every login, so `authcli login` is how a profile picks up new endpoints.
        known = discover(effective(existing, ctx.env), ctx.env, issuer)  # AUTHCLI_TIMEOUT applies
        token_endpoint = known["token_endpoint"]
        clientauth.check_offered(auth["client_auth"], known, issuer)
        if grant == "token-exchange":
            exchange.check_offered(dict(known), issuer)
    elif not token_endpoint:
        token_endpoint = existing.token_endpoint  # named at an earlier login
        known = {name: getattr(existing, name) for name in OPTIONAL_ENDPOINTS}
    if not token_endpoint:
        raise UsageError("pass --issuer URL (for discovery) or --token-endpoint URL")
    endpoints: dict[str, Any] = {}  # each a checked URL or None
    for name, label in OPTIONAL_ENDPOINTS.items():
        url = getattr(opts, name) or known.get(name)
        endpoints[name] = endpoint(url, label) if url else None
    return replace(
        existing,
        flow="oauth",
        issuer=issuer,
        client_id=client_id,
        scope=opts.scope or existing.scope,
        grant=grant,
        **auth,
        **exchanged,
        token_endpoint=endpoint(token_endpoint, "token endpoint"),
        **endpoints,
        redirect_port=opts.redirect_port or existing.redirect_port,
        audience=opts.audience or existing.audience,
        resource=opts.resource or existing.resource,
        dpop=_dpop(opts, existing, issuer, known),
    )


def _dpop(opts: LoginOptions, existing: Profile, issuer: str | None, known: Mapping[str, Any]) -> bool:
    """--dpop (or the profile's dpop = true), refused for a provider whose discovery document
    does not list ES256 in dpop_signing_alg_values_supported."""
    from ..dpop import ALG

    wanted = opts.dpop or existing.dpop
    if wanted and issuer and "token_endpoint" in known:
        algs = known.get("dpop_signing_alg_values_supported")
        if not isinstance(algs, list) or ALG not in algs:
            raise UsageError(f"the provider {issuer} does not offer DPoP with {ALG} (its discovery document has "
                             f"dpop_signing_alg_values_supported: {algs!r}); log in without --dpop")
    return wanted


def _client_secret(opts: LoginOptions, ctx: Context, profile: Profile) -> str | None:
    from ..flows.clientauth import JWT_METHODS

    if profile.client_auth in JWT_METHODS:
        return None  # the client proves itself with a JWT (clientauth.settings refused --client-secret-stdin)
    if opts.client_secret_stdin:
        if opts.password_stdin:
            raise UsageError("--password-stdin and --client-secret-stdin both read stdin; "
                             "pass the client secret in AUTHCLI_CLIENT_SECRET instead")
        return _stdin_secret(ctx, "--client-secret-stdin")
    if ctx.env.get("AUTHCLI_CLIENT_SECRET"):
        return ctx.env["AUTHCLI_CLIENT_SECRET"]
    if profile.grant == "client-credentials" or profile.client_auth not in (None, "none"):
        if ctx.io.can_prompt:
            import getpass

            return getpass.getpass("Client secret: ", stream=ctx.io.stderr)  # type: ignore[arg-type]
        raise UsageError("no client secret: pipe it in with --client-secret-stdin, or set AUTHCLI_CLIENT_SECRET")
    return None


def run(opts: LoginOptions, ctx: Context) -> int:
    config = ctx.config
    name = check_profile_name(opts.profile or config.default_name(ctx.env))
    existing = config.profiles.get(name) or Profile(name=name)
    oauth = opts.oauth or existing.flow == "oauth"
    if oauth:
        existing = _oauth_profile(opts, ctx, existing)

    api_url = opts.api_url or ctx.env.get("AUTHCLI_API_URL") or existing.api_url or (oauth and existing.issuer)
    if not api_url:
        if not ctx.io.can_prompt:
            raise UsageError(f"no API URL for profile '{name}': pass --api-url URL")
        api_url = _prompt(ctx, "API URL")
    api_url = check_api_url(api_url)
    storage = storage_for(existing, ctx.env, opts.storage)
    saved = _with_redis(replace(existing, api_url=api_url, storage=storage), opts)
    saved = _with_key_source(ctx, saved, opts)
    if opts.redis_password_stdin:
        saved = _keep_redis_password(ctx, opts, saved)
    profile = effective(saved, ctx.env, storage_flag=storage)
    session = Session(ctx, profile)
    if opts.join:
        if opts.replace:
            raise UsageError("--join adopts the shared session and --replace signs in over it: choose one")
        return _join(ctx, session, saved)
    if storage == "encrypted":
        _take_key(ctx, session, opts)  # read (or asked for) now, before any other prompt; nothing decrypted
    else:
        try:
            session.store.load(name)  # a missing or locked keyring fails now, before any prompt
        except CorruptRecord:
            pass  # about to be replaced

    secret = _client_secret(opts, ctx, profile) if oauth else None
    email = password = None
    if not (oauth and profile.grant in ("client-credentials", "device", "browser", "token-exchange")):
        email = opts.email
        if not email:
            if not ctx.io.can_prompt:
                raise UsageError("no email: pass --email EMAIL" + (" (the user name)" if oauth else ""))
            email = _prompt(ctx, "User" if oauth else "Email")
        password = _password(opts, ctx)

    flow = ctx.flow(profile, session.api_origin)
    device_record = None
    # Device and browser sign-ins wait for a person, which can take minutes: not while holding
    # the lock every other authcli of this profile would be waiting for.
    if oauth and profile.grant == "device":
        device_record = flow.device_login(ctx.io)  # type: ignore[attr-defined]
    elif oauth and profile.grant == "browser":
        device_record = flow.browser_login(  # type: ignore[attr-defined]
            ctx.io, secret, open_browser=not opts.no_browser, timeout=opts.browser_timeout)
    with ctx.lock(profile):
        record = device_record or flow.login(email, password, secret)
        if storage == "redis" and not opts.replace:
            _refuse_takeover(ctx, session, flow, record, email)
        # The profile is recorded first: tokens the config could not list would be a live
        # session that nothing shows or revokes.
        with ctx.edit_config() as edited:
            old = edited.profiles.get(name)
            edited.profiles[name] = saved
        try:
            session.store.save(name, record)
        except AuthcliError:
            with ctx.edit_config() as edited:  # as it was: the old session (if any) is still there
                if old is None:
                    edited.profiles.pop(name, None)
                else:
                    edited.profiles[name] = old
            raise
        if old is not None and old.storage != storage:
            _forget_old_copy(ctx, old, name)

    if storage == "file":
        ctx.io.warn(
            f"tokens for profile '{name}' are stored in {session.store.location(name)}, "
            "protected only by file permissions"
        )
    how = f"{storage} storage" + (f", key from {spec_of(saved).describe()}" if storage == "encrypted" else "")
    ctx.io.info(f"Logged in to {api_url} as {_signed_in_as(ctx, session, record, email)} (profile '{name}', {how})")
    return 0


def _signed_in_as(ctx: Context, session: Session, record: TokenRecord, typed: str | None) -> str:
    """Who the server says signed in: the ID token's (or a JWT access token's) claims, else the
    provider's userinfo answer; what was typed, or the client, only when the server names nobody."""
    from ..claims import account_of

    who = record_account(record)
    profile = session.profile
    if who is None and profile.flow == "oauth" and profile.grant in ("device", "browser") \
            and profile.userinfo_endpoint:
        from .whoami import verify

        try:
            answer = verify(ctx, session)
        except AuthcliError:
            answer = None
        who = account_of(answer) if isinstance(answer, dict) else None
    if who is not None:
        return who
    if typed:
        return typed
    if profile.grant == "client-credentials":
        return f"client {profile.client_id}"
    if profile.grant == "token-exchange":
        from ..flows.exchange import subject_source

        source = subject_source(profile)
        return f"the identity of {source.describe()}" if source else "an exchanged token"
    return "an account the provider did not name (no ID token; add the openid scope to see it)"


def _with_redis(profile: Profile, opts: LoginOptions) -> Profile:
    """The profile with --redis-url and --redis-namespace (storage redis only, no password)."""
    if profile.storage != "redis":
        if opts.redis_url or opts.redis_namespace or opts.join or opts.replace or opts.redis_password_stdin:
            raise UsageError("--redis-url, --redis-namespace, --redis-password-stdin, --join and --replace go with "
                             "--storage redis")
        return profile
    from ..stores.redis import check_redis_url, redacted, url_password

    if opts.redis_url is not None:
        check_redis_url(opts.redis_url, "--redis-url")
        if url_password(opts.redis_url) is not None:
            raise UsageError(f"--redis-url {redacted(opts.redis_url)} carries a password, which would be kept in "
                             "config.toml and shown by ps: set AUTHCLI_REDIS_PASSWORD instead (or the whole URL "
                             "in AUTHCLI_REDIS_URL)")
    return replace(profile, redis_url=opts.redis_url or profile.redis_url,
                   redis_namespace=opts.redis_namespace or profile.redis_namespace)


def _with_key_source(ctx: Context, profile: Profile, opts: LoginOptions) -> Profile:
    """The profile's key source for --storage encrypted: the flag given, else the one the profile
    remembers, else AUTHCLI_STORAGE_KEY when set, else a passphrase on a terminal. Never a guess
    in a script: without any, exit 2 listing the choices."""
    import os

    chosen = [(flag, value) for flag, value in (("--key-file", opts.key_file), ("--new-key-file", opts.new_key_file),
                                                ("--key-command", opts.key_command),
                                                ("--passphrase", opts.passphrase or None)) if value]
    if profile.storage != "encrypted":
        if chosen:
            raise UsageError(f"{chosen[0][0]} goes with --storage encrypted")
        return profile
    if len(chosen) > 1:
        raise UsageError(f"{chosen[0][0]} and {chosen[1][0]} both say where the key comes from: choose one")
    flag, value = chosen[0] if chosen else (None, None)
    if flag in ("--key-file", "--new-key-file"):
        assert isinstance(value, str)
        return replace(profile, storage_key="file", key_file=os.path.abspath(os.path.expanduser(value)),
                       key_command=None)
    if flag == "--key-command":
        return replace(profile, storage_key="command", key_command=str(value), key_file=None)
    if flag == "--passphrase":
        return replace(profile, storage_key="passphrase", key_file=None, key_command=None)
    if profile.storage_key is not None:
        return profile
    from ..storagekey import ENV

    if ctx.env.get(ENV):
        return replace(profile, storage_key="env")
    if ctx.io.can_prompt:
        return replace(profile, storage_key="passphrase")
    raise UsageError(f"--storage encrypted needs a key: set {ENV} (32 random bytes, base64), or pass --key-file PATH, "
                     "--new-key-file PATH or --key-command CMD (a passphrase needs a terminal)")


def _take_key(ctx: Context, session: Session, opts: LoginOptions) -> None:
    """The encrypted store's key for the new session: read from its source (a new key file
    written), or a new data key wrapped under a passphrase typed twice, then cached."""
    import os

    from ..storagekey import Key, KeyUnavailable, ask, cache_name, wrap, write_new_file
    from ..stores.encrypted import EncryptedStore

    store = session.store
    assert isinstance(store, EncryptedStore)
    if store.spec.source != "passphrase":
        store.use_key(write_new_file(store.spec.key_file or "") if opts.new_key_file else store.key())
        return
    if not ctx.io.can_prompt:
        from ..storagekey import SCRIPT_CHOICES

        raise KeyUnavailable(f"a passphrase can only be typed on a terminal; for scripts, {SCRIPT_CHOICES}")
    passphrase = ask(f"New passphrase for profile '{session.profile.name}': ")
    if len(passphrase) < 8:
        raise UsageError("the passphrase is shorter than 8 characters; choose a longer one")
    if ask("Again: ") != passphrase:
        raise UsageError("the two passphrases differ; nothing was changed")
    key = Key(os.urandom(32))
    header = wrap(passphrase, key)
    store.use_key(key, header)
    store.cache(cache_name(header), key)


def _keep_redis_password(ctx: Context, opts: LoginOptions, profile: Profile) -> Profile:
    """--redis-password-stdin: into this machine's OS keyring, named by the profile's
    redis_auth = "keyring" (never the password itself) in config.toml."""
    if opts.password_stdin or opts.client_secret_stdin:
        raise UsageError("--redis-password-stdin and --password-stdin (or --client-secret-stdin) both read stdin; "
                         "pass the Redis password in AUTHCLI_REDIS_PASSWORD instead")
    from ..stores import redis_password_entry
    from ..stores.keyring import KeyringStore

    password = _stdin_secret(ctx, "--redis-password-stdin")
    keyring = make_store("keyring", ctx.paths, ctx.env)
    assert isinstance(keyring, KeyringStore)
    keyring.set_secret(redis_password_entry(profile.name), password)
    return replace(profile, redis_auth="keyring")


def _refuse_takeover(ctx: Context, session: Session, flow: Any, record: TokenRecord, typed: str | None) -> None:
    """A fleet's key holding another account's live session is not taken over without --replace
    (or joined with --join): a second fleet with the same API, Redis and profile name would
    otherwise log the first one into its account. The new sign-in is ended at the server."""
    try:
        there = session.store.load(session.profile.name)
    except CorruptRecord:
        return
    if there is None or not there.has_session(ctx.clock()):
        return
    theirs = record_account(there)
    ours = record_account(record) or typed
    if theirs is not None and theirs == ours:
        return  # the same account signing in again: the fleet's session, renewed
    try:
        flow.logout(record)  # best effort: no orphaned session at the server
    except AuthcliError:
        pass
    named = f"the account {theirs}" if theirs else "an account the server does not name"
    raise UsageError(f"{session.store.location(session.profile.name)} holds a live session of {named}, shared by "
                     "other machines; run authcli login --storage redis --join to use it, or --replace to sign "
                     "in over it for every machine")


def _join(ctx: Context, session: Session, saved: Profile) -> int:
    """Another machine logged in: adopt its shared session without signing in again."""
    name = saved.name
    if session.load() is None:
        raise NotLoggedIn(f"no shared session at {session.store.location(name)}; log in on one machine first: "
                          f"authcli login --storage redis (same API, Redis and namespace)")
    with ctx.edit_config() as edited:
        edited.profiles[name] = saved
    ctx.io.info(f"Joined the shared session for {saved.api_url} at {session.store.location(name)} "
                f"(profile '{name}', redis storage)")
    return 0


def _forget_old_copy(ctx: Context, old: Profile, name: str) -> None:
    """The profile moved to another store: the tokens there are stale and must not linger,
    except a fleet's shared session, which the other machines still use."""
    if old.storage == "redis":
        ctx.io.info("The shared session in Redis is left to the other machines (authcli logout there ends it).")
        return
    try:
        make_store(old.storage, ctx.paths, ctx.env, effective(old, ctx.env, old.storage)).delete(name)
    except StorageError as exc:
        ctx.io.warn(f"could not delete the old tokens from {old.storage} storage: {exc.message}")
