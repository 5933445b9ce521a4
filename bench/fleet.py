"""One session shared by 4 "machines" on Redis (issue 13): refreshes, reuse, failures.

    .venv/bin/python bench/fleet.py [--sizes 10,50,200]

Each machine is an AUTHCLI_CONFIG_DIR of its own (its own lock files), all naming one
redis-server started here on a free loopback port. For each N: log in on machine 0 with a
one-second access token, join the others, let the token expire, start N `authcli token`
processes at once spread over the 4 machines, and count what the dev server saw. Then the
same with the lease switched off (AUTHCLI_TEST_DISABLE_REDIS_LEASE=1). The dev server
answers refreshes 0.5 s late, as a real one under load might. Last, `authcli token` start-up
(a valid token: no refresh) on the Redis store beside the file store, in one hyperfine run.
Needs redis-server and hyperfine (apt-get install redis-server hyperfine).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
AUTHCLI = str(BIN / "authcli")
MACHINES = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin(api: str, path: str, body: dict[str, object] | None = None) -> dict[str, int]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)  # type: ignore[no-any-return]


def run_round(api: str, envs: list[dict[str, str]], n: int, lease: bool) -> dict[str, object]:
    admin(api, "/_admin/config", {"access_ttl": 1, "refresh_delay": 0})
    subprocess.run([AUTHCLI, "login", "--api-url", api, "--email", "alice@example.com", "--password-stdin",
                    "--storage", "redis"], input="alice-password\n", text=True, env=envs[0], check=True,
                   capture_output=True)
    for env in envs[1:]:
        subprocess.run([AUTHCLI, "login", "--api-url", api, "--storage", "redis", "--join"], env=env, check=True,
                       capture_output=True)
    admin(api, "/_admin/config", {"access_ttl": 300, "refresh_delay": 0.5})
    before = admin(api, "/_stats")
    time.sleep(1.2)
    extra = {} if lease else {"AUTHCLI_TEST_DISABLE_REDIS_LEASE": "1"}
    for env in envs if not lease else []:  # switches count only in a harness's config dir
        open(os.path.join(env["AUTHCLI_CONFIG_DIR"], "TEST-HARNESS"), "w").close()
    start = time.perf_counter()
    procs = [subprocess.Popen([AUTHCLI, "token"], env={**envs[i % MACHINES], **extra}, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) for i in range(n)]
    codes = [p.wait(timeout=600) for p in procs]
    wall = time.perf_counter() - start
    for p in procs:
        assert p.stdout is not None
        p.stdout.close()
    after = admin(api, "/_stats")
    # Exit codes alone do not tell: after a reuse detection the losers adopt the winner's
    # tokens and exit 0, but the server has revoked the whole family. Ask the API.
    alive = subprocess.run([AUTHCLI, "call", "/users/me"], env=envs[0], capture_output=True).returncode == 0
    return {"n": n, "lease": "on" if lease else "off", "refreshes": after["refreshes"] - before["refreshes"],
            "reuse": after["reuse_detections"] - before["reuse_detections"],
            "failures": sum(1 for c in codes if c != 0), "wall": wall, "alive": "yes" if alive else "**no**"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,200")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", root,
                                  "--save", ""], stdout=subprocess.DEVNULL)
        base = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCLI_")}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["AUTHCLI_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        envs = [{**base, "AUTHCLI_CONFIG_DIR": f"{root}/machine-{i}"} for i in range(MACHINES)]
        server = subprocess.Popen([AUTHCLI, "dev-server"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, env=base)
        assert server.stdout is not None
        api = server.stdout.readline().strip()
        try:
            rows = [run_round(api, envs, int(n), lease) for n in args.sizes.split(",") for lease in (True, False)]
            file_env = {**base, "AUTHCLI_CONFIG_DIR": f"{root}/file-machine", "AUTHCLI_STORAGE": "file"}
            # A fresh session for both (the last round, without the lease, ended the shared one).
            for env in (envs[0], file_env):
                subprocess.run([AUTHCLI, "login", "--api-url", api, "--email", "alice@example.com",
                                "--password-stdin"], input="alice-password\n", text=True, env=env, check=True,
                               capture_output=True)
            # One hyperfine run for both, so they share the machine's noise; `env` sets each one's dir.
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                subprocess.run(
                    ["hyperfine", "-N", "--warmup", "5", "--runs", "30", "--export-json", out.name,
                     "-n", "redis", f"env AUTHCLI_CONFIG_DIR={root}/machine-1 {AUTHCLI} token",
                     "-n", "file", f"env AUTHCLI_CONFIG_DIR={root}/file-machine AUTHCLI_STORAGE=file {AUTHCLI} token"],
                    env=base, check=True, capture_output=True)
                medians = {r["command"]: r["median"] * 1000 for r in json.loads(Path(out.name).read_text())["results"]}
            redis_ms, file_ms = medians["redis"], medians["file"]
        finally:
            server.terminate()
            redis.terminate()
    print("| processes | lease | refreshes | reuse detections | failures | wall time | session alive after |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['n']} | {r['lease']} | {r['refreshes']} | {r['reuse']} | {r['failures']} | {r['wall']:.1f} s "
              f"| {r['alive']} |")
    print(f"\n`authcli token` with a valid token: redis store {redis_ms:.0f} ms, file store {file_ms:.0f} ms (medians)")


if __name__ == "__main__":
    main()
