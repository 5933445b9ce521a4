"""The entry point: authcli's stages, in order, and the one place that turns an error into
`authcli: ...` and an exit code.

1. **Global options**, up to the command word (``split_globals``): all flags (--debug,
   --no-color), so `--debug` is only ever the global flag, never a header value or a
   program's argument.
2. **The command's options** (``command_options``): the commands scripts run in loops
   (token, whoami, call, git-credential) are parsed here without importing Typer (65-100 ms
   of imports on the project's machine), from the table fastspec.py that
   scripts/gen_fastpath.py generates from the Typer app itself; anything unusual about such
   a command line (help, a typo, `--`, an option twice, --version) and every other command go
   to Typer in cli.py, which declares every command once and words every usage error.
3. **The token shortcut** (shortcut.py): a plain `token` whose token is good is answered
   with os and json, plus what its store needs to be read (AES-GCM for an encrypted file,
   D-Bus through jeepney for the Secret Service): no Typer, no context, no keyring.
4. **The command** (``COMMANDS``): its module's ``run(options, ctx)``.

A stage that cannot answer raises ``UseFullPath`` (errors.py), the one way to step aside:
the parser for Typer, the shortcut and the fast readers (the Secret Service through jeepney,
Redis without redis-py) for the full path. docs/architecture.md has the table of which path
runs when.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import ModuleType

from .errors import AuthcliError, ExitCode, Interrupted, UseFullPath

GLOBAL_FLAGS = {"--debug": "debug", "--no-color": "no_color"}


def _token() -> ModuleType:
    from .commands import token

    return token


def _whoami() -> ModuleType:
    from .commands import whoami

    return whoami


def _call() -> ModuleType:
    from .commands import call

    return call


def _git_credential() -> ModuleType:
    from .commands import git_credential

    return git_credential


# The commands stage 2 parses, and the modules that run them (each: ``options(**params)``
# and ``run(options, ctx)``); tests/unit/test_cli.py pins that these are fastspec's commands.
COMMANDS: dict[str, Callable[[], ModuleType]] = {
    "token": _token, "whoami": _whoami, "call": _call, "git-credential": _git_credential,
}


def split_globals(args: list[str]) -> tuple[dict[str, bool], list[str]]:
    """Stage 1: the global flags before the command word, and the command line from it on."""
    flags: dict[str, bool] = {}
    for at, arg in enumerate(args):
        if arg not in GLOBAL_FLAGS:
            return flags, args[at:]
        flags[GLOBAL_FLAGS[arg]] = True
    return flags, []


def command_options(args: list[str]) -> tuple[str, dict[str, object]]:
    """Stage 2: ``COMMAND [ARGUMENT | OPTION VALUE | --option=value | FLAG]...`` for a command
    in fastspec (the parameters cli.py declares, generated), as (command, every parameter).
    UseFullPath for help, a typo, a global option here, an option given twice, ``--``, a
    value that starts with '-' or that Typer would refuse: Typer words the error."""
    from .fastspec import ARGUMENTS, DEFAULTS, OPTIONS

    if not args or args[0] not in OPTIONS:
        raise UseFullPath
    command = args[0]
    known, positional = OPTIONS[command], list(ARGUMENTS[command])
    found: dict[str, object] = {}
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            if not positional:
                raise UseFullPath
            found[positional.pop(0)[0]] = arg
            continue
        spelling, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if spelling not in known:
            raise UseFullPath
        name, kind = known[spelling]
        repeatable = kind.endswith("*")
        if name in found and not repeatable:
            raise UseFullPath
        if kind in ("flag", "noflag"):
            if eq:
                raise UseFullPath
            found[name] = kind == "flag"
            continue
        if not eq:
            value = next(rest, "")
            if not value or value.startswith("-"):
                raise UseFullPath
        kind = kind.rstrip("*")
        try:
            typed = float(value) if kind == "float" else int(value) if kind == "int" else value
        except ValueError:
            raise UseFullPath from None
        if repeatable:
            values = found.setdefault(name, [])
            assert isinstance(values, list)
            values.append(typed)
        else:
            found[name] = typed
    if any(required for _, required in positional):
        raise UseFullPath
    return command, {**DEFAULTS[command], **found}


def run_command(command: str, params: dict[str, object], flags: dict[str, bool]) -> int:
    """Stage 4, for a command stage 2 parsed."""
    from .context import Context
    from .iostreams import IOStreams

    module = COMMANDS[command]()
    ctx = Context(io=IOStreams.system(no_color=flags.get("no_color", False)), debug=flags.get("debug", False))
    return int(module.run(module.options(**params), ctx))


def _guard(run: Callable[[], int], debug: bool) -> int:
    try:
        return run()
    except AuthcliError as exc:
        if debug:
            raise
        from .termsafe import printable

        sys.stderr.write(f"authcli: {printable(exc.message)}\n")
        return int(exc.exit_code)
    except (KeyboardInterrupt, Interrupted):
        sys.stderr.write("authcli: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (e.g. `authcli ... | head -1`): not an error worth a message.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush at exit
        return int(ExitCode.ERROR)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if debug:
            raise
        from .termsafe import printable

        sys.stderr.write(f"authcli: unexpected error ({type(exc).__name__}: {printable(str(exc))}); "
                         "run with --debug for details\n")
        return int(ExitCode.ERROR)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    flags, command_line = split_globals(args)
    debug = flags.get("debug", False) or os.environ.get("AUTHCLI_DEBUG") == "1"
    if args == ["--version"]:
        from . import __version__

        sys.stdout.write(f"authcli {__version__}\n")  # what the Typer app prints, without loading it
        return 0
    try:
        command, params = command_options(command_line)
    except UseFullPath:
        return _guard(lambda: _typer(args), debug)
    if command == "token":
        from .shortcut import token

        try:
            line = token(params, os.environ)
        except UseFullPath:
            pass
        else:
            return _guard(lambda: _print(line), debug)
    return _guard(lambda: run_command(command, params, flags), debug)


def _typer(args: list[str]) -> int:
    from .cli import run_typer

    return run_typer(args)


def _print(line: str) -> int:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
