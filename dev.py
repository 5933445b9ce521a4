#!/usr/bin/env python3
"""The project's two entry points, each doing its own set-up (needs only Python 3.11+).

    python3 dev.py demo    run the demo against the built-in dev server
    python3 dev.py test    run the whole test suite (extra arguments go to pytest)

Both create .venv/ on first use and reinstall when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"authcli needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    stamp = VENV / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PYTHON.exists():
        return
    print("dev.py: setting up .venv (first run, or pyproject.toml changed)...", file=sys.stderr)
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{ROOT}[test]"],
        check=True,
    )
    stamp.write_text(want)


OIDC = ROOT / "tests" / "servers" / "oidc"


def ensure_oidc_provider() -> None:
    """npm oidc-provider for the OAuth tests, from the committed lock file (`npm ci`).

    Without npm the tests that need it skip (CI sets AUTHCLI_REQUIRE_OIDC=1: they fail)."""
    stamp = OIDC / "node_modules" / ".authcli-installed"
    want = hashlib.sha256((OIDC / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return
    npm = shutil.which("npm")
    if npm is None:
        print("dev.py: no npm here: the oidc-provider tests will be skipped", file=sys.stderr)
        return
    print("dev.py: installing oidc-provider for the tests (npm ci)...", file=sys.stderr)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC, check=True)
    stamp.write_text(want)


def demo() -> int:
    ensure_venv()
    return subprocess.call([str(PYTHON), str(ROOT / "scripts" / "demo.py")])


def test(args: list[str]) -> int:
    ensure_venv()
    ensure_oidc_provider()
    pytest = [str(PYTHON), "-m", "pytest", *args]
    have_secret_service = shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")
    if have_secret_service and not os.environ.get("AUTHCLI_TEST_SECRET_SERVICE"):
        # Real keyring tests run inside a private bus with a throwaway keyring, never the user's.
        return subprocess.call([str(ROOT / "scripts" / "with-secret-service.sh"), *pytest])
    if not have_secret_service:
        print("dev.py: no gnome-keyring/dbus here: the real-keyring tests will be skipped", file=sys.stderr)
    return subprocess.call(pytest)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    os.chdir(ROOT)
    return demo() if sys.argv[1] == "demo" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
