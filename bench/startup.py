"""Start-up budget: median wall time of whole authcli processes (issue 5).

    .venv/bin/python bench/startup.py [--runs 20]
    scripts/with-secret-service.sh .venv/bin/python bench/startup.py   # adds the keyring store

Uses hyperfine when installed (apt-get install hyperfine), else a loop of processes.
Starts the dev server, logs in (file store; keyring too inside a Secret Service session), and
measures the interpreter alone, --version, token (valid token), whoami, call /users/me, and
for comparison curl (token in a 0600 header file) and HTTPie's `http` when installed.
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
AUTHCLI = str(BIN / "authcli")


def median_ms(cmd: list[str], env: dict[str, str], runs: int) -> float:
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", out.name,
                            "--", " ".join(cmd)], env=env, check=True, capture_output=True)
            return 1000 * json.load(open(out.name))["results"][0]["median"]
    times = []
    for _ in range(runs + 3):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[3:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, AUTHCLI_CONFIG_DIR=home)
        server = subprocess.Popen([AUTHCLI, "dev-server", "--access-ttl", "3600"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()

            def login(profile: str, storage: str) -> bool:
                return subprocess.run(
                    [AUTHCLI, "login", "--profile", profile, "--api-url", url, "--email", "alice@example.com",
                     "--password-stdin", "--storage", storage],
                    input="alice-password\n", text=True, env=env, capture_output=True).returncode == 0

            login("default", "file")
            keyring = os.environ.get("AUTHCLI_TEST_SECRET_SERVICE") == "1" and login("kr", "keyring")
            token = subprocess.run([AUTHCLI, "token"], env=env, capture_output=True, text=True).stdout.strip()
            header = Path(home) / "auth-header"
            fd = os.open(header, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, f"Authorization: Bearer {token}\n".encode())
            os.close(fd)
            rows: list[tuple[str, list[str]]] = [
                ("python -c pass (same interpreter)", [sys.executable, "-c", "pass"]),
                ("authcli --version", [AUTHCLI, "--version"]),
                ("authcli token (file store)", [AUTHCLI, "token"]),
            ]
            if keyring:
                rows.append(("authcli token (keyring store, Secret Service)", [AUTHCLI, "token", "-p", "kr"]))
            rows += [
                ("authcli whoami (file store)", [AUTHCLI, "whoami"]),
                ("authcli call /users/me (file store)", [AUTHCLI, "call", "/users/me"]),
                ("curl /users/me (same token)", ["curl", "-sf", "-H", f"@{header}", f"{url}/users/me"]),
            ]
            if shutil.which("http"):
                rows.append(("HTTPie http /users/me", ["http", "--ignore-stdin", f"{url}/users/me",
                                                       f"Authorization:Bearer {token}"]))
            print(f"| command | median of {args.runs} runs (ms) |")
            print("|---|---|")
            for name, cmd in rows:
                print(f"| {name} | {median_ms(cmd, env, args.runs):.0f} |", flush=True)
        finally:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
