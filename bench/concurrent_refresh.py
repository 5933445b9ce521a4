"""N concurrent `authcli token` processes after the access token expired.

For each N, with the lock and then without it (the test-only switch), prints what the dev
server saw: refreshes, reuse detections, failed processes, whether the session survived,
and the wall time. Prints a Markdown table for docs/benchmarks.md.

    .venv/bin/python bench/concurrent_refresh.py [--storage file|keyring] [--sizes 1,10,50,200]

The keyring store needs a Secret Service: scripts/with-secret-service.sh .venv/bin/python bench/...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

AUTHCLI = str(Path(sys.executable).parent / "authcli")


def call(url: str, path: str, body: object | None = None) -> dict:  # type: ignore[type-arg]
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)  # type: ignore[no-any-return]


def one_run(n: int, storage: str, lock: bool, refresh_delay: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, AUTHCLI_CONFIG_DIR=home, AUTHCLI_KEYRING_SERVICE=f"authcli-bench-{os.getpid()}")
        server = subprocess.Popen([AUTHCLI, "dev-server", "--access-ttl", "1"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            subprocess.run([AUTHCLI, "login", "--api-url", url, "--email", "alice@example.com", "--password-stdin",
                            "--storage", storage], input="alice-password\n", text=True, env=env, check=True,
                           capture_output=True)
            call(url, "/_admin/config", {"access_ttl": 300, "refresh_delay": refresh_delay})
            time.sleep(1.2)
            run_env = dict(env)
            if not lock:
                run_env["AUTHCLI_TEST_DISABLE_LOCK"] = "1"
                open(os.path.join(home, "TEST-HARNESS"), "w").close()  # switches count only in a harness's dir
            start = time.perf_counter()
            procs = [subprocess.Popen([AUTHCLI, "token"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, env=run_env) for _ in range(n)]
            codes = [p.wait() for p in procs]
            for p in procs:
                p.communicate()
            wall = time.perf_counter() - start
            stats = call(url, "/_stats")
            alive = subprocess.run([AUTHCLI, "whoami", "--verify"], env=env, capture_output=True).returncode == 0
            if storage == "keyring":
                subprocess.run([AUTHCLI, "logout"], env=env, capture_output=True)
            return {
                "n": n, "lock": "on" if lock else "off", "refreshes": stats["refreshes"],
                "attempts": stats["refresh_attempts"], "reuse": stats["reuse_detections"],
                "failures": sum(c != 0 for c in codes), "session": "alive" if alive else "REVOKED",
                "wall": wall,
            }
        finally:
            server.terminate()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", default="file", choices=["file", "keyring"])
    parser.add_argument("--sizes", default="1,10,50,200")
    parser.add_argument("--refresh-delay", type=float, default=0.2,
                        help="seconds the dev server takes to answer a refresh (a real server's latency)")
    args = parser.parse_args()
    print("| N | lock | refreshes at server | refresh requests | reuse detections | failed processes | session after "
          "| wall time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for lock in (True, False):
        for n in (int(x) for x in args.sizes.split(",")):
            r = one_run(n, args.storage, lock, args.refresh_delay)
            print(f"| {r['n']} | {r['lock']} | {r['refreshes']} | {r['attempts']} | {r['reuse']} | {r['failures']} "
                  f"| {r['session']} | {r['wall']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
