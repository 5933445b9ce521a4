"""Where an externally issued token comes from: a file, an environment variable or a command,
read afresh on every use. A Kubernetes projected service-account token rotates on disk, a CI
job's OIDC token is minted on request; a copy kept by authcli would only go stale.

Used for the subject and actor tokens of a token exchange (flows/exchange.py) and for a
federated client assertion (flows/clientauth.py). A profile keeps WHERE a token comes from
(a path, a variable's name, a command line), never the token. A source that cannot be read is
an AuthError (exit 4) naming the source; the token itself is never in a message, never on
argv (a command gets no token, it prints one), never in a repr.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError, UsageError

KINDS = ("file", "env", "command")
MAX_TOKEN = 64 * 1024  # a JWT is a few KiB; anything larger is not a token
COMMAND_TIMEOUT = 30.0
TIMEOUT_ENV = "AUTHCLI_TOKEN_COMMAND_TIMEOUT"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What a form field can carry as a token (tokens.py's rule: visible ASCII, no space).
_TOKEN = re.compile(r"^[\x21-\x7e]+$")
# Secrets of authcli's own that a token command never inherits.
_NOT_INHERITED = ("AUTHCLI_CLIENT_SECRET", "AUTHCLI_REDIS_PASSWORD")


class SourceUnavailable(AuthError):
    """A token's source could not be read: a missing file, an unset variable, a failing command."""


@dataclass(frozen=True)
class TokenSource:
    """``what`` (e.g. "subject token") comes from ``kind`` (file | env | command) at ``where``."""

    what: str
    kind: str
    where: str

    def describe(self) -> str:
        """How messages name the source: the path, the variable, the command's program only
        (a command's arguments may be sensitive)."""
        if self.kind == "file":
            return f"the {self.what} file {self.where}"
        if self.kind == "env":
            return f"the {self.what} in ${self.where}"
        from ..helpercmd import program_name

        return f"the {self.what} command '{program_name(self.where)}'"

    def read(self, env: Mapping[str, str]) -> str:
        """The token, stripped of surrounding whitespace; SourceUnavailable when there is none."""
        if self.kind == "file":
            text = self._read_file()
        elif self.kind == "env":
            text = env.get(self.where, "")
            if not text.strip():
                raise SourceUnavailable(f"{self.describe()} is empty or not set")
        else:
            text = self._run(env)
        token = text.strip()
        if not token:
            raise SourceUnavailable(f"{self.describe()} is empty")
        if len(token) > MAX_TOKEN or not _TOKEN.match(token):
            # Never echoed: the message is about the token, not the token.
            raise SourceUnavailable(f"{self.describe()} does not hold a token (one line of visible characters)")
        return token

    def _read_file(self) -> str:
        # Symlinks are followed: a projected token and a mounted secret are links into ..data/.
        try:
            with open(self.where, "rb") as handle:
                raw = handle.read(MAX_TOKEN + 1)
        except OSError as exc:
            raise SourceUnavailable(f"cannot read {self.describe()}: {exc.strerror or exc}") from None
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise SourceUnavailable(f"{self.describe()} does not hold a token (not ASCII text)") from None

    def _run(self, env: Mapping[str, str]) -> str:
        """The command's standard output (helpercmd.run: no shell, no stdin, killed when slow)."""
        from .. import helpercmd
        from ..config import number_from_env
        from ..storagekey import child_environment

        child_env = {k: v for k, v in child_environment(env).items() if k not in _NOT_INHERITED}
        out = helpercmd.run(self.where, child_env, timeout=number_from_env(env, TIMEOUT_ENV, COMMAND_TIMEOUT),
                            kind=f"the {self.what} command", gives="token", timeout_env=TIMEOUT_ENV, error=SourceUnavailable)
        try:
            return out[: MAX_TOKEN + 1].decode("ascii")
        except UnicodeDecodeError:
            raise SourceUnavailable(f"{self.describe()} printed no token (not ASCII text)") from None


def source_of(profile: Any, prefix: str, what: str) -> TokenSource | None:
    """The source a profile names with ``<prefix>_file``, ``_env`` or ``_command`` (at most one
    is set: login sees to it), or None."""
    for kind in KINDS:
        where = getattr(profile, f"{prefix}_{kind}", None)
        if where:
            return TokenSource(what, kind, where)
    return None


def settings(prefix: str, flag: str, given: Mapping[str, str | None], existing: Any) -> dict[str, str | None]:
    """The profile fields ``<prefix>_file/_env/_command`` for login: the one flag given (checked,
    a file made absolute), else what the profile had. ``given``: kind -> the flag's value."""
    chosen = [(kind, value) for kind, value in given.items() if value is not None]
    if len(chosen) > 1:
        raise UsageError(f"--{flag}-{chosen[0][0]} and --{flag}-{chosen[1][0]} both say where the "
                         f"{flag.replace('-', ' ')} comes from: choose one")
    if not chosen:
        return {f"{prefix}_{kind}": getattr(existing, f"{prefix}_{kind}", None) for kind in KINDS}
    kind, value = chosen[0]
    option = f"--{flag}-{kind}"
    if kind == "file":
        if not value.strip():
            raise UsageError(f"{option} needs a path")
        value = os.path.abspath(os.path.expanduser(value))
    elif kind == "env" and not _NAME.match(value):
        raise UsageError(f"{option} takes the NAME of an environment variable (letters, digits, '_'), "
                         "not its value")
    elif kind == "command":
        from ..helpercmd import words

        words(value, option, UsageError)
    return {f"{prefix}_{k}": (value if k == kind else None) for k in KINDS}
