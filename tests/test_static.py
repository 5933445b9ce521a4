"""`ruff check` and `mypy --strict` (configured in pyproject.toml) are part of the test suite,
so they hold in CI and not only on a developer's machine.

mypy checks the code as each platform sees it (issue 21): no machine here runs macOS or
Windows, so this is where a POSIX-only name used outside oscalls.py's branches shows up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("linux", "darwin", "win32")
# Files still being ported, per platform: their errors make the run an expected failure (strict:
# once they are clean, the entry must go); an error in any other file fails the test.
PENDING: dict[str, tuple[str, ...]] = {}

# Dependencies only some platforms install, and which (the Secret Service is Linux's; keyring
# pulls in its own per-platform backends with its own markers).
PLATFORM_DEPENDENCIES = {"secretstorage": {"linux"}, "jeepney": {"linux"}}


class PendingErrors(Exception):
    """mypy found errors only in PENDING files."""


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_passes() -> None:
    proc = run("ruff", "check", "src", "tests", "bench", "scripts")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("platform", [
    pytest.param(platform, marks=pytest.mark.xfail(
        strict=True, raises=PendingErrors, reason=f"still being ported to {platform}: {', '.join(PENDING[platform])}"))
    if platform in PENDING else platform
    for platform in PLATFORMS
])
def test_mypy_passes_for(platform: str) -> None:
    # One cache per platform: a shared one would be rebuilt on every switch.
    proc = run("mypy", "--platform", platform, "--cache-dir", str(ROOT / ".mypy_cache" / platform))
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert proc.returncode == 0 or errors, proc.stdout[-4000:] + proc.stderr[-2000:]
    unexpected = [line for line in errors if not line.startswith(PENDING.get(platform, ()))]
    assert not unexpected, "\n".join(unexpected)
    if errors:
        raise PendingErrors("\n".join(errors))


def test_platform_specific_dependencies_carry_markers() -> None:
    """pyproject.toml's markers install each dependency exactly where PLATFORM_DEPENDENCIES says."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    for requirement in map(Requirement, declared):
        marker = requirement.marker
        installed = {p for p in PLATFORMS if marker is None or marker.evaluate({"sys_platform": p, "extra": "test"})}
        assert installed == PLATFORM_DEPENDENCIES.get(requirement.name.lower(), set(PLATFORMS)), str(requirement)


def test_the_engines_unit_tests_type_check_without_ignores() -> None:
    """session.Session takes what it needs as a Protocol (session.Needs), so the unit tests'
    fakes are checked against it like the real Context, with no `type: ignore` to hide a drift."""
    test = ROOT / "tests" / "unit" / "test_session.py"
    assert "type: ignore" not in test.read_text(encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--explicit-package-bases",
                           "--cache-dir", str(ROOT / ".mypy_cache" / "engine-tests"), "src/authcli/session.py", str(test)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "MYPYPATH": "src"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
