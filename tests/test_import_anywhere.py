"""Every authcli module imports on Windows: no POSIX-only name is touched at import time.

mypy --platform win32 (test_static.py) sees a POSIX-only attribute anywhere, but not an
`import fcntl` (typeshed has a stub for it on every platform) and not what runs on import. So
each module is imported here as Windows would import it, in a subprocess: first normally (so
every third-party dependency is loaded the Linux way and does not take part), then again with
sys.platform set to "win32", POSIX-only modules unimportable, and the names that typeshed
declares for POSIX only removed from os, signal, socket and their neighbours (Windows-only
ones stand in as inert integers). Only authcli's own module code runs in that second pass.
On Windows itself, the modules are simply imported.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import authcli

ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)  # requires-python: the oldest interpreter a Windows user may have
# Modules whose names differ by platform (typeshed's stubs say which).
SIMULATED = ("os", "signal", "socket", "socketserver", "select", "time", "subprocess")
POSIX_MODULES = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "posix", "syslog", "crypt",
                 "_posixsubprocess", "_posixshmem", "readline", "curses")
WINDOWS_MODULES = ("msvcrt", "winreg", "_winapi", "_overlapped", "winsound", "nt")
# Test modules in tests/portable.txt (what CI runs on macOS and Windows) that do not import on
# Windows yet: their failures make that test a strict xfail naming them.
PENDING_TESTS: tuple[str, ...] = ()


class PendingErrors(Exception):
    """Only PENDING_TESTS failed to import."""

SIMULATE = r"""
import importlib, json, sys, types
spec = json.load(sys.stdin)
sys.path[:0] = spec["path"]
for name in [*spec["hide"], *spec["modules"]]:
    importlib.import_module(name)  # the Linux way: loads every dependency
for name in list(sys.modules):
    if name.split(".")[0] in spec["roots"]:
        del sys.modules[name]


class WindowsOnly(int):
    def __call__(self, *args, **kwargs):
        raise AssertionError("a Windows-only function called at import time")


for module, names in spec["hide"].items():
    for name in names:
        if hasattr(sys.modules[module], name):
            delattr(sys.modules[module], name)
for module, names in spec["add"].items():
    for name in names:
        if not hasattr(sys.modules[module], name):
            setattr(sys.modules[module], name, WindowsOnly(0))
for name in spec["blocked"]:
    sys.modules[name] = None  # import raises ImportError
for name in spec["stubbed"]:
    sys.modules.setdefault(name, types.ModuleType(name))
sys.platform = "win32"
failures = []
for name in spec["modules"]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failures.append(f"{name}: {type(exc).__name__}: {exc}")
sys.platform = "linux"
sys.stdout.write(json.dumps(failures))
"""


def _condition(test: ast.expr, platform: str) -> bool | None:
    """A typeshed `if` test for ``platform`` at MIN_PYTHON; None when it is not about either."""
    if isinstance(test, ast.BoolOp):
        values = [_condition(value, platform) for value in test.values]
        if isinstance(test.op, ast.And):
            return False if False in values else None if None in values else True
        return True if True in values else None if None in values else False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _condition(test.operand, platform)
        return None if inner is None else not inner
    if isinstance(test, ast.Call) and ast.unparse(test.func) == "sys.platform.startswith" and test.args:
        prefix = ast.literal_eval(test.args[0])
        return platform.startswith(prefix) if isinstance(prefix, str) else None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op = ast.unparse(test.left), test.ops[0]
        try:
            right = ast.literal_eval(test.comparators[0])
        except ValueError:
            return None
        if left == "sys.platform" and isinstance(op, (ast.Eq, ast.NotEq)):
            return (platform == right) == isinstance(op, ast.Eq)
        if left == "sys.version_info" and isinstance(right, tuple):
            here = MIN_PYTHON[:len(right)]
            operations = {ast.GtE: here >= right, ast.Gt: here > right, ast.Lt: here < right, ast.LtE: here <= right}
            return operations.get(type(op))
    return None


def _defined(body: list[ast.stmt], platform: str) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.If):
            value = _condition(node.test, platform)
            if value is not False:
                names |= _defined(node.body, platform)
            if value is not True:
                names |= _defined(node.orelse, platform)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


@cache
def names_by_platform(module: str) -> tuple[set[str], set[str]]:
    """(names on Linux but not on Windows, names on Windows but not on Linux), from typeshed."""
    import mypy

    stdlib = Path(mypy.__file__).parent / "typeshed" / "stdlib"
    stub = stdlib / f"{module}.pyi"
    if not stub.exists():
        stub = stdlib / module / "__init__.pyi"
    body = ast.parse(stub.read_text(encoding="utf-8")).body
    linux, windows = _defined(body, "linux"), _defined(body, "win32")
    return linux - windows, windows - linux


def failures_on_windows(modules: list[str], path: list[str] | None = None) -> list[str]:
    """What fails when ``modules`` are imported as on Windows (see the module docstring)."""
    spec = {
        "modules": modules, "path": path or [], "roots": sorted({name.split(".")[0] for name in modules}),
        "hide": {module: sorted(names_by_platform(module)[0]) for module in SIMULATED},
        "add": {module: sorted(names_by_platform(module)[1]) for module in SIMULATED},
        "blocked": POSIX_MODULES, "stubbed": WINDOWS_MODULES,
    }
    proc = subprocess.run([sys.executable, "-c", SIMULATE], input=json.dumps(spec), capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    failures: list[str] = json.loads(proc.stdout)
    return failures


def all_modules() -> list[str]:
    """Every module but the ``python -m`` entry points, which run authcli when imported."""
    found = pkgutil.walk_packages(authcli.__path__, "authcli.")
    return ["authcli", *sorted(m.name for m in found if not m.name.endswith(".__main__"))]


def test_typeshed_knows_the_names_that_matter() -> None:
    """The simulation hides what it should (a typeshed layout change would make it hide nothing)."""
    posix_os, windows_os = names_by_platform("os")
    assert {"O_NOFOLLOW", "O_CLOEXEC", "geteuid", "fchmod", "killpg", "fork", "getuid"} <= posix_os
    assert {"O_BINARY", "startfile"} <= windows_os
    assert {"SIGKILL", "SIGHUP", "SIGCHLD", "sigwaitinfo", "setitimer"} <= names_by_platform("signal")[0]
    assert "AF_UNIX" in names_by_platform("socket")[0]
    assert "ThreadingUnixStreamServer" in names_by_platform("socketserver")[0]
    assert {"O_RDONLY", "open", "getpid", "SIGINT"}.isdisjoint(posix_os | names_by_platform("signal")[0])


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows, test_every_module_imports_here is the real thing")
def test_every_module_imports_as_on_windows() -> None:
    assert failures_on_windows(all_modules()) == []


def test_every_module_imports_here() -> None:
    import importlib

    for name in all_modules():
        importlib.import_module(name)


# A module's top level, and whether it imports on Windows. The simulation must catch the first kind.
@pytest.mark.skipif(sys.platform == "win32", reason="simulates Windows on a POSIX host")
@pytest.mark.parametrize(("source", "imports"), [
    ("import fcntl", False),
    ("import termios", False),
    ("import pwd", False),
    ("from os import O_NOFOLLOW", False),
    ("import os\nFLAGS = os.O_RDONLY | os.O_NOFOLLOW", False),
    ("import os\nUID = os.geteuid()", False),
    ("import signal\nSTOP = signal.SIGTSTP", False),
    ("import socket\nFAMILY = socket.AF_UNIX", False),
    ("from socketserver import ThreadingUnixStreamServer", False),
    ("import os\nFLAGS = os.O_RDONLY", True),
    ("import signal\nSTOP = signal.SIGINT", True),
    ("import sys\nif sys.platform != 'win32':\n    import fcntl", True),
    ("import sys\nif sys.platform == 'win32':\n    import msvcrt\n    F = __import__('os').O_BINARY", True),
    ("def later():\n    import fcntl\n    return fcntl.flock", True),
    ("from authcli import oscalls", True),
])
def test_the_simulation_catches_posix_names(tmp_path: Path, source: str, imports: bool) -> None:
    (tmp_path / "canary.py").write_text(source + "\n")
    failures = failures_on_windows(["canary"], [str(tmp_path)])
    assert (failures == []) is imports, failures


def portable_test_modules() -> list[str]:
    """The test modules CI runs on every platform (tests/portable.txt, pytest's @file), with
    the helpers they import."""
    modules = ["tests.conftest", "tests.platforms"]
    for line in (ROOT / "tests" / "portable.txt").read_text(encoding="utf-8").split():
        path = ROOT / line
        files = sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
        modules += [".".join(file.relative_to(ROOT).with_suffix("").parts) for file in files]
    return modules


@pytest.mark.skipif(sys.platform == "win32", reason="simulates Windows on a POSIX host")
@pytest.mark.xfail(bool(PENDING_TESTS), strict=True, raises=PendingErrors,
                   reason=f"not yet importable on Windows: {', '.join(PENDING_TESTS)}")
def test_the_tests_ci_runs_everywhere_import_on_windows() -> None:
    """Collecting them on Windows must not fail (a module-level signal.SIGHUP or `import pty`)."""
    failures = failures_on_windows(portable_test_modules(), [str(ROOT)])
    unexpected = [line for line in failures if not line.startswith(PENDING_TESTS)]
    assert not unexpected, "\n".join(unexpected)
    if failures:
        raise PendingErrors("\n".join(failures))
