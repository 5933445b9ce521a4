"""Exit codes and the exception tree.

Every failure authcli reports is an ``AuthcliError`` that carries its exit code;
only ``cli.py`` turns one into ``authcli: <message>`` on stderr. Third-party
exceptions (httpx, keyring, filelock) are translated where those libraries are
called, never further up.

    AuthcliError (1)
    ├── UsageError (2)               bad flag value, bad URL, unknown profile, corrupt config
    ├── HTTPStatusError (1)          `authcli call` got a status >= 400 with --fail
    ├── AuthError (4)
    │   ├── NotLoggedIn              no stored session for the profile
    │   ├── LoginFailed              the server rejected the credentials
    │   ├── SessionExpired           the server said invalid_grant (RFC 6749 5.2); tokens were cleared
    │   └── RefreshRefused           any other refusal of a refresh (flows/): the session is kept
    ├── NetworkError (5)             unreachable, timeout, TLS, 5xx, an answer that is not the protocol
    └── StorageError (6)
        ├── KeyringUnavailable       no usable keyring backend, or it is locked
        ├── CorruptRecord            the stored record is not an authcli record
        ├── LockTimeout              another authcli held the profile lock (or a fleet's lease) too long
        └── Fenced                   a fleet's record was replaced by a newer one meanwhile (warned, not exited)
    ProgramNotExecutable (126)       `authcli exec`: the program exists but cannot be run
    └── ProgramNotFound (127)        `authcli exec`: no such program (the codes shells use)

Not in the tree either: UseFullPath, how a shortcut steps aside (main.py); never shown.

`authcli exec` otherwise becomes its program (sideproxy.py): the status is the program's own.

Ctrl-C (KeyboardInterrupt, and SIGTERM, SIGHUP or SIGQUIT during `call -o`) is not in the
tree: main.py maps it to ExitCode.INTERRUPTED (130). Inside the Typer app it travels as
Interrupted, a BaseException Typer does not turn into a silent exit 130.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 4
    NETWORK = 5
    STORAGE = 6
    NOT_EXECUTABLE = 126
    NOT_FOUND = 127
    INTERRUPTED = 130


class UseFullPath(Exception):
    """A shortcut or fast reader steps aside: the full path answers (main.py's stages, the
    token shortcut, the Secret Service through jeepney, Redis without redis-py). Never shown
    to the user; the message, if any, says why for a debugger."""


class AuthcliError(Exception):
    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(AuthcliError):
    exit_code = ExitCode.USAGE


class HTTPStatusError(AuthcliError):
    exit_code = ExitCode.ERROR


class AuthError(AuthcliError):
    exit_code = ExitCode.AUTH


class NotLoggedIn(AuthError):
    pass


class LoginFailed(AuthError):
    pass


class SessionExpired(AuthError):
    pass


class NetworkError(AuthcliError):
    exit_code = ExitCode.NETWORK


class StorageError(AuthcliError):
    exit_code = ExitCode.STORAGE


class KeyringUnavailable(StorageError):
    pass


class CorruptRecord(StorageError):
    pass


class LockTimeout(StorageError):
    pass


class Fenced(StorageError):
    """Another machine saved a newer record while this one held a lease it had lost."""


class ProgramNotExecutable(AuthcliError):
    exit_code = ExitCode.NOT_EXECUTABLE


class ProgramNotFound(ProgramNotExecutable):
    exit_code = ExitCode.NOT_FOUND


class Interrupted(BaseException):
    """Ctrl-C inside a Typer command (see cli.py)."""
