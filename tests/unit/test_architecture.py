"""docs/architecture.md keeps up with the code: its module table names every module of the
package, and nothing else; the stages it describes are main.py's."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "authcli"
DOC = ROOT / "docs" / "architecture.md"


def documented_modules() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Modules", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([\w/]+\.py)` \|", table, flags=re.M)


def test_every_module_is_in_the_table_once() -> None:
    modules = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)
    documented = documented_modules()
    assert len(documented) == len(set(documented)), "a module is listed twice"
    missing = sorted(set(modules) - set(documented))
    stale = sorted(set(documented) - set(modules))
    assert not missing and not stale, f"docs/architecture.md: add {missing}, remove {stale}"


def test_the_commands_main_runs_are_the_ones_the_page_names() -> None:
    from authcli.main import COMMANDS

    text = DOC.read_text(encoding="utf-8")
    stage_two = text.split("2. **The command's options**", 1)[1].split("3. **", 1)[0]
    named = set(re.findall(r"`([a-z-]+)`", stage_two)) & {"token", "whoami", "call", "git-credential", "login",
                                                           "logout", "refresh", "proxy", "exec", "profiles"}
    assert named == set(COMMANDS)
