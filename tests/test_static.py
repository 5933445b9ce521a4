"""`ruff check` and `mypy --strict` (configured in pyproject.toml) are part of the test suite,
so they hold in CI and not only on a developer's machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["ruff", "check", "src", "tests", "bench", "scripts"], ["mypy"]], ids=lambda c: c[0])
def test_static_check_passes(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
