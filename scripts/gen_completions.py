"""Regenerate completions/ from the Typer app: .venv/bin/python scripts/gen_completions.py [DIR]

The scripts ask `authcli` itself for candidates (through _AUTHCLI_COMPLETE), so they stay
right as commands change; tests/integration/test_completions.py fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer._completion_shared import get_completion_script

from authcli.cli import COMPLETE_VAR

FILES = {"bash": "authcli.bash", "zsh": "_authcli", "fish": "authcli.fish"}


def generate(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        script = get_completion_script(prog_name="authcli", complete_var=COMPLETE_VAR, shell=shell)
        if shell == "zsh":
            # Autoloaded from $fpath the file is _authcli's body, so it must complete right away;
            # sourced, it registers itself (the same footer gh's script uses).
            body = script.replace("#compdef authcli", "").replace("compdef _authcli_completion authcli", "").strip()
            script = (
                f"#compdef authcli\n{body}\n\n"
                'if [ "$funcstack[1]" = "_authcli" ]; then\n'
                '  _authcli_completion "$@"\n'
                "else\n"
                "  compdef _authcli_completion authcli\n"
                "fi"
            )
        path = directory / name
        path.write_text(script.rstrip() + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "completions"
    for path in generate(target):
        print(path)
