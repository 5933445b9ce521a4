"""Profiles and where authcli keeps things on disk.

Precedence for every setting: command-line flag > AUTHCLI_* environment > config.toml > default.
The config file never holds a secret; tokens live in a store (stores/).

Directories:
  1. AUTHCLI_CONFIG_DIR, when set, holds everything: config.toml, state/locks, state/tokens.
  2. Otherwise the platform's user config dir (~/.config/authcli) for config.toml and the
     user state dir (~/.local/state/authcli) for locks and file-stored tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import NotLoggedIn, UsageError
from .rules import PROFILE_NAME, directories

DEFAULT_PROFILE = "default"
STORAGES = ("keyring", "file", "redis", "encrypted")


def check_profile_name(name: str) -> str:
    """Profile names become file names (tokens, locks): no separators, no '..', nothing hidden."""
    if not PROFILE_NAME.match(name):
        raise UsageError(
            f"invalid profile name {name!r}: use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    state_dir: Path
    # Set when AUTHCLI_CONFIG_DIR chose the directories: the keyring entries are then that
    # directory's own, so that the entry and the lock file that guards it always go together.
    scope: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Paths:
        """AUTHCLI_CONFIG_DIR's, else platformdirs' (rules.directories knows its answer on Linux
        and macOS, the token shortcut shares it; on Windows platformdirs is asked)."""
        found = directories(env)
        if found is not None:
            config_dir, state_dir = found
            scope = config_dir if env.get("AUTHCLI_CONFIG_DIR") else None
            return cls(config_dir=Path(config_dir), state_dir=Path(state_dir), scope=scope)
        import platformdirs

        return cls(
            config_dir=Path(platformdirs.user_config_dir("authcli", appauthor=False)),
            state_dir=Path(platformdirs.user_state_dir("authcli", appauthor=False)),
        )

    def top(self, directory: Path) -> Path:
        """The outermost of authcli's own directories above ``directory``."""
        for root in (self.config_dir, self.state_dir):
            if directory.is_relative_to(root):
                return root
        return directory

    def private(self, directory: Path) -> Path:
        """``directory``, created 0700 (with authcli's directories above it) and checked."""
        from .fsutil import ensure_private_dir

        ensure_private_dir(directory, self.top(directory))
        return directory

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def tokens_dir(self) -> Path:
        return self.state_dir / "tokens"

    @property
    def locks_dir(self) -> Path:
        return self.state_dir / "locks"


@dataclass(frozen=True, kw_only=True)
class TokenSources:
    """Where a client assertion or an exchanged token comes from: a path, a variable's name or a
    command line, never the key, the assertion or the token. ``login``'s options and a profile
    both carry them, declared once here."""

    # client_auth = "private_key_jwt" / "client_assertion" (flows/clientauth.py): where the key or the
    # assertion comes from, never the key or the assertion
    client_key_file: str | None = None
    client_key_id: str | None = None
    client_assertion_file: str | None = None
    client_assertion_env: str | None = None
    client_assertion_command: str | None = None
    # grant = "token-exchange" (flows/exchange.py, RFC 8693): where the subject and actor tokens come from
    subject_token_file: str | None = None
    subject_token_env: str | None = None
    subject_token_command: str | None = None
    subject_token_type: str | None = None
    actor_token_file: str | None = None
    actor_token_env: str | None = None
    actor_token_command: str | None = None
    actor_token_type: str | None = None
    requested_token_type: str | None = None


@dataclass(frozen=True)
class Profile(TokenSources):
    """One API and how to talk to it. Holds no secret."""

    name: str
    api_url: str | None = None
    storage: str = "keyring"
    login_path: str = "/auth/login"
    refresh_path: str = "/auth/refresh"
    logout_path: str = "/auth/logout"
    me_path: str = "/users/me"
    login_user_field: str = "email"
    login_password_field: str = "password"
    refresh_field: str = "refreshToken"
    lock_timeout: float = 30.0
    timeout: float = 30.0
    ca_bundle: str | None = None
    # OAuth 2.0 (flow = "oauth"); see flows/oauth.py
    flow: str = "json"
    issuer: str | None = None
    client_id: str | None = None
    scope: str | None = None
    grant: str | None = None
    client_auth: str | None = None
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_endpoint: str | None = None
    userinfo_endpoint: str | None = None  # OpenID Connect: what `whoami --verify` asks
    jwks_uri: str | None = None  # OpenID Connect: the keys `whoami --verify` checks the ID token with
    redirect_port: int | None = None  # for providers that need an exact redirect URI
    dpop: bool = False  # DPoP-bound tokens (dpop.py)
    audience: str | None = None
    resource: str | None = None
    # storage = "redis" (stores/redis.py): the server (no password: that comes from the
    # environment) and the key namespace, default the API's origin
    redis_url: str | None = None
    redis_namespace: str | None = None
    redis_auth: str | None = None  # "keyring": the password is in this machine's OS keyring
    git_username: str | None = None  # what git-credential answers as (e.g. oauth2); default: the session's user
    registry: str | None = None  # docker-credential-authcli: the registry this profile's token is for (else api_url)
    registry_username: str | None = None  # what docker-credential-authcli answers as; default: the session's user
    # storage = "encrypted" (stores/encrypted.py): where the key comes from (storagekey.py), never the key
    storage_key: str | None = None  # env | file | command | passphrase
    key_file: str | None = None
    key_command: str | None = None
    key_cache_timeout: float = 8 * 3600.0  # passphrase: seconds the kernel keyring keeps the unwrapped key
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_toml(self) -> dict[str, Any]:
        defaults = Profile(name=self.name)
        out: dict[str, Any] = {}
        for f in sorted(fields(self), key=lambda f: f.name in _SOURCE_FIELDS):  # the sources last, as written
            if f.name in ("name", "extra"):
                continue
            value = getattr(self, f.name)
            if value is not None and (value != getattr(defaults, f.name) or f.name in ("api_url", "storage")):
                out[f.name] = value
        out.update(self.extra)
        return out


_SOURCE_FIELDS = {f.name for f in fields(TokenSources)}
_STR_KEYS = {
    "api_url", "storage", "login_path", "refresh_path", "logout_path", "me_path",
    "login_user_field", "login_password_field", "refresh_field", "ca_bundle",
    "flow", "issuer", "client_id", "scope", "grant", "client_auth", "token_endpoint", "revocation_endpoint",
    "device_authorization_endpoint", "authorization_endpoint", "userinfo_endpoint", "jwks_uri", "audience", "resource",
    "redis_url", "redis_namespace", "redis_auth", "git_username", "registry", "registry_username",
    "storage_key", "key_file", "key_command",
    "client_key_file", "client_key_id", "client_assertion_file", "client_assertion_env", "client_assertion_command",
    "subject_token_file", "subject_token_env", "subject_token_command", "subject_token_type",
    "actor_token_file", "actor_token_env", "actor_token_command", "actor_token_type", "requested_token_type",
}
_CHOICES = {
    "storage": STORAGES,
    "flow": ("json", "oauth"),
    "grant": ("password", "client-credentials", "device", "browser", "token-exchange"),
    "client_auth": ("none", "client_secret_basic", "client_secret_post", "private_key_jwt", "client_assertion"),
    "redis_auth": ("keyring",),
    "storage_key": ("env", "file", "command", "passphrase"),
}
_NUM_KEYS = {"lock_timeout", "timeout", "key_cache_timeout"}


def toml_document(raw: bytes, path: Path) -> dict[str, Any]:
    """config.toml's bytes parsed (tomllib, imported only here: its import compiles a dozen
    regular expressions, ~3 ms of a command's start on the project's machine)."""
    import tomllib

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML ({exc}); fix it or move it away") from None


def _profile_from_toml(name: str, table: Any, path: Path) -> Profile:
    if not isinstance(table, dict):
        raise UsageError(f"config file {path}: [profiles.{name}] must be a table; fix or remove it")
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in table.items():
        if key in _STR_KEYS:
            if not isinstance(value, str):
                raise UsageError(f"config file {path}: profiles.{name}.{key} must be a string")
            known[key] = value
        elif key in _NUM_KEYS:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not (math.isfinite(value) and 0 < value <= MAX_SECONDS)):
                raise UsageError(f"config file {path}: profiles.{name}.{key} must be a number of seconds above 0 "
                                 f"and at most {MAX_SECONDS:g}")
            known[key] = float(value)
        elif key == "dpop":
            if not isinstance(value, bool):
                raise UsageError(f"config file {path}: profiles.{name}.dpop must be true or false")
            known[key] = value
        elif key == "redirect_port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise UsageError(f"config file {path}: profiles.{name}.redirect_port must be a port number")
            known[key] = value
        else:
            extra[key] = value  # kept as written, so a newer authcli's settings survive a save
    for key, choices in _CHOICES.items():
        if key in known and known[key] not in choices:
            raise UsageError(f"config file {path}: profiles.{name}.{key} must be one of {', '.join(choices)}")
    return Profile(name=name, extra=extra, **known)


def check_api_url_setting(profile: Profile, path: Path) -> Profile:
    """The profile, if its api_url passes the rules `login --api-url` applies: a hand edit
    (a query, a fragment, user info, another scheme, http off loopback) must not send tokens
    where login never would. Checked when a command is about to use the profile (not by
    login, logout or `profiles remove`, which mend or end it), so one bad profile is an error
    of that profile only."""
    if profile.api_url is not None:
        from .urls import check_api_url

        try:
            check_api_url(profile.api_url)
        except UsageError as exc:
            raise UsageError(f"config file {path}: profiles.{profile.name}.api_url: {exc.message}; fix it, or run "
                             f"authcli login --profile {profile.name} --api-url URL") from None
    return profile


@dataclass
class Config:
    path: Path
    profiles: dict[str, Profile] = field(default_factory=dict)
    current: str | None = None

    @classmethod
    def load(cls, path: Path, parsed: Callable[[str], dict[str, Any] | None] | None = None) -> Config:
        """config.toml at ``path``. ``parsed(text)`` may hand over the document that exactly this
        text parses to (shortcut.document: the summary keeps it), sparing tomllib's import."""
        from .fsutil import check_private_dir

        check_private_dir(path.parent)  # a config others can write could send a login elsewhere
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path=path)
        except OSError as exc:
            raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
        if parsed is not None:
            try:
                document = parsed(raw.decode("utf-8"))
            except UnicodeDecodeError:
                document = None
            if document is not None:
                return cls.parse(raw, path, document)
        return cls.parse(raw, path)

    @classmethod
    def parse(cls, raw: bytes, path: Path, document: dict[str, Any] | None = None) -> Config:
        """The config that ``raw`` (config.toml's bytes) says, or ``document`` when it is what
        ``raw`` parses to; ``path`` names it in errors."""
        data = document if document is not None else toml_document(raw, path)
        current = data.get("current_profile")
        if current is not None and not isinstance(current, str):
            raise UsageError(f"config file {path}: current_profile must be a string")
        table = data.get("profiles", {})
        if not isinstance(table, dict):
            raise UsageError(f"config file {path}: [profiles] must be a table")
        profiles = {name: _profile_from_toml(name, t, path) for name, t in table.items()}
        return cls(path=path, profiles=profiles, current=current)

    def save(self) -> None:
        import tomli_w

        from .errors import StorageError
        from .fsutil import atomic_write, ensure_private_dir

        doc: dict[str, Any] = {}
        if self.current:
            doc["current_profile"] = self.current
        doc["profiles"] = {name: p.to_toml() for name, p in sorted(self.profiles.items())}
        ensure_private_dir(self.path.parent)
        try:
            atomic_write(self.path, tomli_w.dumps(doc).encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise StorageError(f"cannot write config file {self.path}: {exc.strerror or exc}") from None

    def default_name(self, env: Mapping[str, str]) -> str:
        return env.get("AUTHCLI_PROFILE") or self.current or DEFAULT_PROFILE

    def resolve(self, flag: str | None, env: Mapping[str, str]) -> Profile:
        """The profile a command works on; it must exist."""
        name = flag or self.default_name(env)
        if name in self.profiles:
            try:
                check_profile_name(name)
            except UsageError as exc:
                raise UsageError(f"config file {self.path}: {exc.message}; rename or remove that profile") from None
            return self.profiles[name]
        if flag is None and "AUTHCLI_PROFILE" not in env and name == DEFAULT_PROFILE:
            raise NotLoggedIn("not logged in; run authcli login --api-url URL")
        known = ", ".join(sorted(self.profiles)) or "none yet"
        raise UsageError(
            f"unknown profile '{name}' (known: {known}); create it with authcli login --profile {name}"
        )


def storage_for(profile: Profile, env: Mapping[str, str], flag: str | None = None) -> str:
    value = flag or env.get("AUTHCLI_STORAGE") or profile.storage
    if value not in STORAGES:
        raise UsageError(f"unknown storage {value!r}: use 'keyring', 'file', 'redis' or 'encrypted'")
    return value


def number_from_env(env: Mapping[str, str], name: str, fallback: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return fallback
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number of seconds") from None
    return check_seconds(value, name)


MAX_SECONDS = 86400.0


def check_seconds(value: float, name: str) -> float:
    """A timeout: a positive, finite number of seconds, at most a day."""
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise UsageError(f"{name} must be a number of seconds above 0 and at most {MAX_SECONDS:g}")
    return value


def effective(profile: Profile, env: Mapping[str, str], storage_flag: str | None = None) -> Profile:
    """The profile with environment overrides applied (flag > env > config > default)."""
    return replace(
        profile,
        storage=storage_for(profile, env, storage_flag),
        lock_timeout=number_from_env(env, "AUTHCLI_LOCK_TIMEOUT", profile.lock_timeout),
        timeout=number_from_env(env, "AUTHCLI_TIMEOUT", profile.timeout),
    )



