"""The entry point, and the one place that turns an error into `authcli: ...` and an exit code.

`authcli token` is what scripts run in loops, so its plain forms are parsed here without
importing Typer (about 100 ms of imports on the project's machine, more than the rest of the
command's start-up); everything else, and anything unusual about a token command line
(help, a typo, a global option), goes through the Typer app in cli.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from .errors import AuthcliError, ExitCode, Interrupted

_TOKEN_OPTIONS = {"-p": "profile", "--profile": "profile", "--min-ttl": "min_ttl"}


def fast_token_options(args: list[str]) -> dict[str, str] | None:
    """``token [-p|--profile NAME] [--min-ttl SECONDS]`` (also ``--opt=value``), else None."""
    if not args or args[0] != "token":
        return None
    found: dict[str, str] = {}
    rest = iter(args[1:])
    for arg in rest:
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        key = _TOKEN_OPTIONS.get(name)
        if key is None or key in found:
            return None
        if not eq:
            value = next(rest, "")
            if not value or value.startswith("-"):
                return None
        found[key] = value
    if "min_ttl" in found:
        try:
            float(found["min_ttl"])
        except ValueError:
            return None  # let Typer word the usage error
    return found


def _run_token(found: dict[str, str]) -> int:
    from .commands import token
    from .context import Context
    from .io import IOStreams

    opts = token.TokenOptions(profile=found.get("profile"), min_ttl=float(found.get("min_ttl", 0)))
    return token.run(opts, Context(io=IOStreams.system()))


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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("AUTHCLI_DEBUG") == "1"
    if args == ["--version"]:
        from . import __version__

        sys.stdout.write(f"authcli {__version__}\n")  # what the Typer app prints, without loading it
        return 0
    found = fast_token_options(args)
    if found is not None:
        return _guard(lambda: _run_token(found), debug)

    def via_typer() -> int:
        from .cli import run_typer

        return run_typer(args)

    return _guard(via_typer, debug)


if __name__ == "__main__":
    raise SystemExit(main())
