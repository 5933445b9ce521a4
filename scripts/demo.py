"""The demo: authcli's main job, end to end, against the built-in dev server.

Runs with file storage in a temporary config dir, so it needs no keyring and leaves
nothing behind. Started by `python3 dev.py demo`.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent
AUTHCLI = str(BIN / "authcli")
ACCESS_TTL = 6


def show(cmd: str, env: dict[str, str], stdin: str | None = None, quiet: bool = False) -> str:
    print(f"\n$ {cmd}", flush=True)
    args = shlex.split(cmd)
    args[0] = AUTHCLI
    result = subprocess.run(args, env=env, input=stdin, text=True, capture_output=True)
    if not quiet:
        sys.stdout.write(result.stdout)
    sys.stdout.write("".join(f"  (stderr) {line}\n" for line in result.stderr.splitlines()))
    if result.returncode != 0:
        raise SystemExit(f"demo: `{cmd}` exited {result.returncode}")
    return result.stdout


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats") as response:
        return json.load(response)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="authcli-demo-") as home:
        env = dict(os.environ, AUTHCLI_CONFIG_DIR=home, AUTHCLI_STORAGE="file", NO_COLOR="1")
        env.pop("AUTHCLI_PROFILE", None)
        print(f"demo: config and tokens live in {home} (file storage, so no keyring is needed)")
        server = subprocess.Popen(
            [AUTHCLI, "dev-server", "--access-ttl", str(ACCESS_TTL)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            print(f"demo: dev server on {url}; access tokens live {ACCESS_TTL}s")
            show(f"authcli login --api-url {url} --email alice@example.com --password-stdin", env,
                 stdin="alice-password\n")
            show("authcli whoami", env)
            show("authcli call /users/me", env)
            show("authcli call /items --paginate", env)
            token = show("authcli token", env, quiet=True)
            print(f"  <a {len(token.strip())}-character access token on stdout, for curl and friends>")

            print(f"\ndemo: waiting {ACCESS_TTL}s for the access token to expire...", flush=True)
            time.sleep(ACCESS_TTL)
            before = stats(url)["refreshes"]
            print("$ seq 20 | xargs -P 20 -I{} authcli call /users/me   # 20 processes, one expired token")
            with ThreadPoolExecutor(20) as pool:
                runs = list(pool.map(
                    lambda _: subprocess.run([AUTHCLI, "call", "/users/me"], env=env, capture_output=True, text=True),
                    range(20),
                ))
            ok = sum(r.returncode == 0 and "alice@example.com" in r.stdout for r in runs)
            after = stats(url)
            print(f"  {ok}/20 succeeded; the server saw "
                  f"{after['refreshes'] - before} refresh(es) and {after['reuse_detections']} reuse detection(s)")
            show("authcli whoami", env)
            show("authcli logout", env)
        finally:
            server.terminate()
            server.wait(timeout=10)
        print("\ndemo: done; the dev server is stopped and the temporary config dir removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
