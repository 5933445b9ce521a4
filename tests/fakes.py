"""Stand-ins for tier-two command tests (gh's `run(opts)` with stubs): a dict-backed store that
keeps the Store contract (stores/base.py), a flow that records what it was asked, a clock that
moves only when told, and a real Context around them with IOStreams.test(); and the row the
credential helpers' tables share.

Only for pure-logic unit tests: the real stores run the contract in tests/store_contract.py, and the
commands against the real dev server are tests/integration/.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from authcli.config import Config, Profile
from authcli.context import Context
from authcli.errors import AuthcliError
from authcli.iostreams import IOStreams
from authcli.stores.base import LocalStore
from authcli.tokens import TokenRecord

NOW = 1_700_000_000.0
API = "https://api.example.com"
ORIGIN = "https://api.example.com:443"


def jwt(**claims: Any) -> str:
    """An unsigned JWT carrying ``claims`` (authcli only ever decodes such claims for display)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def record(access: str = "access-1", refresh: str | None = "refresh-1", expires_in: float | None = 3600.0,
           origin: str = ORIGIN, **extra: Any) -> TokenRecord:
    """A record obtained at NOW - 100 s (so NOW is inside a fresh token's life)."""
    return TokenRecord(access, refresh, None if expires_in is None else NOW + expires_in, NOW - 100, origin, **extra)


@dataclass
class DictStore(LocalStore):
    """The Store protocol over a dict. ``fail`` makes every call raise it (a locked keyring);
    ``unreadable`` makes loading those profiles raise theirs (a corrupt record)."""

    records: dict[str, TokenRecord] = field(default_factory=dict)
    kind: str = "memory"
    fail: AuthcliError | None = None
    unreadable: dict[str, AuthcliError] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def _check(self) -> None:
        if self.fail is not None:
            raise self.fail

    def load(self, profile: str) -> TokenRecord | None:
        self._check()
        if profile in self.unreadable:
            raise self.unreadable[profile]
        return self.records.get(profile)

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        self._check()
        self.records[profile] = record

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        self._check()

    def delete(self, profile: str) -> bool:
        self._check()
        self.deleted.append(profile)
        self.unreadable.pop(profile, None)
        return self.records.pop(profile, None) is not None

    def location(self, profile: str) -> str:
        return f"memory:{profile}"


@dataclass
class FakeFlow:
    """A Flow (flows/__init__.py): each call takes its outcome from the lists, in order; an
    exception there is raised. Every call is recorded in ``calls``."""

    logins: list[Any] = field(default_factory=list)
    refreshes: list[Any] = field(default_factory=list)
    logouts: list[Any] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    @staticmethod
    def _outcome(outcomes: list[Any], what: str) -> Any:
        assert outcomes, f"unexpected {what}"
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def login(self, user: str | None, password: str | None, secret: str | None = None) -> TokenRecord:
        self.calls.append(("login", (user, password, secret)))
        return self._outcome(self.logins, "login")  # type: ignore[no-any-return]

    def can_renew(self, record: TokenRecord) -> bool:
        return record.refresh_token is not None

    def refresh(self, record: TokenRecord) -> TokenRecord:
        self.calls.append(("refresh", record.refresh_token))
        return self._outcome(self.refreshes, "refresh")  # type: ignore[no-any-return]

    def logout(self, record: TokenRecord) -> None:
        self.calls.append(("logout", record.refresh_token))
        if self.logouts:
            self._outcome(self.logouts, "logout")


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class StubContext(Context):
    """A real Context (config.toml in a temporary directory, the real profile lock) whose store
    and flow are the fakes: every profile shares ``store_`` and ``flow_``."""

    store_: DictStore = field(default_factory=DictStore)
    flow_: FakeFlow = field(default_factory=FakeFlow)

    def store(self, profile: Profile) -> DictStore:  # type: ignore[override]
        return self.store_

    def flow(self, profile: Profile, api_origin: str) -> FakeFlow:  # type: ignore[override]
        return self.flow_



def make_ctx(home: Path, profiles: list[Profile] | None = None, current: str | None = None,
             records: dict[str, TokenRecord] | None = None, stdin: str = "", tty: bool = False,
             env: dict[str, str] | None = None, flow: FakeFlow | None = None) -> StubContext:
    """A context over ``home`` (created 0700) with config.toml holding ``profiles`` (none: no
    config file at all) and the store holding ``records``."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if profiles is not None:
        Config(home / "config.toml", {p.name: p for p in profiles}, current).save()
    return StubContext(io=IOStreams.test(stdin=stdin, tty=tty), env={"AUTHCLI_CONFIG_DIR": str(home), **(env or {})},
                       clock=Clock(), store_=DictStore(dict(records or {})), flow_=flow or FakeFlow())


def profile(name: str = "default", api_url: str | None = API, **settings: Any) -> Profile:
    return Profile(name=name, api_url=api_url, storage="file", **settings)


def captured(io: IOStreams) -> tuple[str, str]:
    """What went to an IOStreams.test()'s stdout and stderr."""
    io.stdout.flush()
    return io.stdout.buffer.getvalue().decode(), io.stderr.getvalue()  # type: ignore[attr-defined]


def outcome(command: Callable[[Any, Any], int], opts: Any, ctx: Context) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``command(opts, ctx)`` on an IOStreams.test(), an
    AuthcliError turned into its code and one line as main.py's guard does."""
    from authcli.termsafe import printable

    try:
        code = command(opts, ctx)
    except AuthcliError as exc:
        code = int(exc.exit_code)
        ctx.io.stderr.write(f"authcli: {printable(exc.message)}\n")
    return (code, *captured(ctx.io))


# -- the credential helpers' tables (git-credential, docker-credential-authcli) -----------------

ALICE = jwt(sub="u-1", email="alice@example.com")
Opts = TypeVar("Opts")


@dataclass
class HelperCase(Generic[Opts]):
    """A row of a credential helper's table: what the helper is run with and what its caller
    writes on stdin, the outcome expected, and the profiles and records it answers from (by
    default alice, logged in on the default profile)."""

    opts: Opts
    stdin: str
    code: int
    out: str = ""
    err: str = ""
    profiles: list[Profile] = field(default_factory=lambda: [profile()])
    records: dict[str, TokenRecord] = field(default_factory=lambda: {"default": record(ALICE)})
