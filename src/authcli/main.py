"""The entry point, and the one place that turns an error into `authcli: ...` and an exit code.

`authcli token`, `whoami` and `call` are what scripts run in loops, so their plain forms are
parsed here without importing Typer (65-100 ms of imports on the project's machine, more
than the rest of the command's start-up), from the option table fastspec.py that
scripts/gen_fastpath.py generates from the Typer app itself. Everything else, and anything
unusual about such a command line (help, a typo, a global option), goes through cli.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from .errors import AuthcliError, ExitCode, Interrupted

NOT_ANSWERED = -1  # hot.py's "the full path must answer"


def fast_options(args: list[str]) -> tuple[str, dict[str, object]] | None:
    """``COMMAND [ARGUMENT | OPTION VALUE | --option=value | FLAG]...`` for a command in
    fastspec (the parameters cli.py declares, generated), as (command, every parameter), else
    None: help, a typo, a global option, an option given twice, ``--``, a value that starts
    with '-' or that Typer would refuse all go to Typer, which words the error."""
    from .fastspec import ARGUMENTS, DEFAULTS, OPTIONS

    if not args or args[0] not in OPTIONS:
        return None
    command = args[0]
    known, positional = OPTIONS[command], list(ARGUMENTS[command])
    found: dict[str, object] = {}
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            if not positional:
                return None
            found[positional.pop(0)[0]] = arg
            continue
        spelling, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if spelling not in known:
            return None
        name, kind = known[spelling]
        repeatable = kind.endswith("*")
        if name in found and not repeatable:
            return None
        if kind in ("flag", "noflag"):
            if eq:
                return None
            found[name] = kind == "flag"
            continue
        if not eq:
            value = next(rest, "")
            if not value or value.startswith("-"):
                return None
        kind = kind.rstrip("*")
        try:
            typed = float(value) if kind == "float" else int(value) if kind == "int" else value
        except ValueError:
            return None
        if repeatable:
            values = found.setdefault(name, [])
            assert isinstance(values, list)
            values.append(typed)
        else:
            found[name] = typed
    if any(required for _, required in positional):
        return None
    return command, {**DEFAULTS[command], **found}


def _run_fast(command: str, params: dict[str, object]) -> int:
    from importlib import import_module

    from .context import Context
    from .io import IOStreams

    module = import_module(f".commands.{command.replace('-', '_')}", __package__)
    return int(module.run(module.options(**params), Context(io=IOStreams.system())))


def _guard(run: Callable[[], int], debug: bool) -> int:
    try:
        return run()
    except AuthcliError as exc:
        if debug:
            raise
        from .text import printable

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
        from .text import printable

        sys.stderr.write(f"authcli: unexpected error ({type(exc).__name__}: {printable(str(exc))}); "
                         "run with --debug for details\n")
        return int(ExitCode.ERROR)


def global_debug(args: list[str]) -> bool:
    """Whether ``--debug`` is given as the global option: before the command word (the global
    options are all flags), never a header value, a query or a program's argument after it."""
    for arg in args:
        if arg == "--debug":
            return True
        if arg == "--" or not arg.startswith("-"):
            return False
    return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = global_debug(args) or os.environ.get("AUTHCLI_DEBUG") == "1"
    if args == ["--version"]:
        from . import __version__

        sys.stdout.write(f"authcli {__version__}\n")  # what the Typer app prints, without loading it
        return 0
    fast = fast_options(args)
    if fast is not None and fast[0] == "token":
        from .hot import token

        def hot() -> int:
            answered = token(fast[1], os.environ)
            return NOT_ANSWERED if answered is None else answered

        code = _guard(hot, debug)
        if code != NOT_ANSWERED:
            return code
    if fast is not None:
        return _guard(lambda: _run_fast(*fast), debug)

    def via_typer() -> int:
        from .cli import run_typer

        return run_typer(args)

    return _guard(via_typer, debug)


if __name__ == "__main__":
    raise SystemExit(main())
