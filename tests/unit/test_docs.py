"""The manual in docs/ says what the program does: the commands reference is generated from the
Typer app, every link leads somewhere, and every environment variable, config.toml key and
exit code the code knows is in docs/reference.md."""

from __future__ import annotations

import re
import runpy
from dataclasses import fields
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from authcli.cli import app
from authcli.config import Profile
from authcli.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^\s*```")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -N for repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose(path):
        match = re.match(r"^#{1,6} (.*)$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            anchors.add(slug if n == 0 else f"{slug}-{n}")
            seen[slug] = n + 1
    return anchors


def _commands() -> list[tuple[str, object]]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    out: list[tuple[str, object]] = []
    for name, command in group.commands.items():
        out.append((f"authcli {name}", command))
        for sub, subcommand in getattr(command, "commands", {}).items():
            out.append((f"authcli {name} {sub}", subcommand))
    return out


def test_the_commands_reference_is_generated_from_the_typer_app() -> None:
    """One declaration per option: docs/commands.md must be what scripts/gen_docs.py makes of cli.py."""
    generator = runpy.run_path(str(ROOT / "scripts" / "gen_docs.py"))
    committed = (DOCS / "commands.md").read_text()
    assert committed == generator["render"](), "stale: run .venv/bin/python scripts/gen_docs.py"


@pytest.mark.parametrize(("path", "command"), _commands(), ids=[name for name, _ in _commands()])
def test_every_command_is_in_the_reference_with_its_options_and_an_example(path: str, command: object) -> None:
    text = (DOCS / "commands.md").read_text()
    assert f"`{path}`" in text
    assert "\b\n" in (getattr(command, "epilog", None) or ""), f"{path} has no example in its epilog (cli.py)"
    for param in getattr(command, "params", []):
        spellings = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        if not spellings[0].startswith("-") or param.name == "help":
            continue
        for spelling in spellings:
            if getattr(param, "hidden", False):
                assert spelling not in text, f"{path}: hidden option {spelling} is documented"
            else:
                assert re.search(rf"`[^`]*{re.escape(spelling)}\b", text), f"{path}: {spelling} is missing"


def test_hidden_options_stay_out_of_the_reference() -> None:
    assert "--exit-with" not in (DOCS / "commands.md").read_text()


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for line in _prose(page):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            destination = (page.parent / file).resolve() if file else page
            if not destination.exists():
                broken.append(f"{target}: no such file")
            elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
                broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_every_environment_variable_is_in_the_reference() -> None:
    reference = (DOCS / "reference.md").read_text()
    names = set()
    for source in (ROOT / "src" / "authcli").rglob("*.py"):
        names.update(re.findall(r"(?<![A-Z_])AUTHCLI_[A-Z0-9_]*[A-Z0-9]\b", source.read_text()))
    assert names, "no AUTHCLI_* variable found: the pattern is wrong"
    missing = sorted(name for name in names if f"`{name}`" not in reference)
    assert not missing, f"docs/reference.md does not name {missing}"


def test_every_config_key_is_in_the_reference() -> None:
    reference = (DOCS / "reference.md").read_text()
    keys = ["current_profile"] + [f.name for f in fields(Profile) if f.name not in ("name", "extra")]
    missing = [key for key in keys if f"| `{key}` |" not in reference]
    assert not missing, f"docs/reference.md's table of config.toml keys lacks {missing}"


def test_every_exit_code_is_in_the_reference() -> None:
    prose = _prose(DOCS / "reference.md")
    section = prose[prose.index("## Exit codes"):]
    rows = [line for line in section if line.startswith("| ")]
    documented = {int(code) for line in rows for code in re.findall(r"\d+", line.split("|")[1])}
    missing = sorted(int(code) for code in ExitCode if int(code) not in documented)
    assert not missing, f"docs/reference.md's exit code table lacks {missing}"


def test_the_readme_is_a_front_page_that_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines: the manual belongs in docs/"
    top = "\n".join(lines[:10])
    assert "python3 dev.py demo" in top and "python3 dev.py test" in top


def test_the_readme_names_every_command_and_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    missing = [name for name in [*(f"authcli {c}" for c in group.commands), "docker-credential-authcli"]
               if f"| [`{name}`](" not in readme]
    assert not missing, f"README.md's table of commands lacks {missing}"
    unlinked = [page.name for page in sorted(DOCS.glob("*.md")) if f"(docs/{page.name}" not in readme]
    assert not unlinked, f"README.md links no {unlinked}"
