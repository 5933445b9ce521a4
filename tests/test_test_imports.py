"""Test modules import shared helpers from tests/helpers.py (or fixtures from conftest.py), never
from another test module: each test file reads and runs on its own (issue 19)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# from tests.unit.test_x import ..., from .test_x import ..., from tests.unit import test_x,
# from . import test_x, import tests.unit.test_x
CROSS_IMPORT = re.compile(r"^\s*(from (tests\.(unit|integration)\.|\.+)test_\w+ import"
                          r"|from (tests\.(unit|integration)|\.+) import .*\btest_\w+"
                          r"|import tests\.(unit|integration)\.test_)", re.MULTILINE)


def test_no_test_module_imports_another() -> None:
    found = {path.relative_to(TESTS).as_posix() for path in TESTS.rglob("test_*.py")
             if CROSS_IMPORT.search(path.read_text(encoding="utf-8"))}
    assert not found, f"share through tests/helpers.py, fakes.py or conftest.py instead: {sorted(found)}"
