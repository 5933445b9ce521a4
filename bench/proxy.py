"""`authcli proxy` against going direct (issue 12): per-request cost and memory under 1 GiB.

    .venv/bin/python bench/proxy.py [--requests 1000] [--gib 1]
    .venv/bin/python bench/proxy.py --nagle-on [--requests 1000]

Against the dev server on loopback, with a file-store session in a throwaway config dir:
- N sequential curl processes, direct (with the token) and through the proxy (with the local
  secret): what a shell loop pays. Beside them N sequential `authcli call` for contrast.
- One curl process fetching N URLs over one kept-alive connection, direct and through the
  proxy: the proxy's own cost per request, without curl's start-up to hide it.
- 1 GiB down (GET /bytes/N) and 1 GiB up (PUT /echo, streamed) through the proxy; the
  proxy's peak RSS (VmHWM) is read from /proc before it stops.
Wall times from time.perf_counter around each batch; the ratios are the result.

--nagle-on: the curl rows only, against an upstream that keeps Nagle's algorithm on
(a plain http.server, as Werkzeug's dev server does) instead of the dev server (Nagle off):
the session is moved to it (record and profile pointed at its origin). Each answer's head
and body are two writes, so the second waits for the proxy's ACK of the first; the proxy's
quick ACKs (quickack.py) are what keeps that from costing a delayed ACK (~40 ms) a request.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
AUTHCLI = str(BIN / "authcli")


def timed(run: list[list[str]], env: dict[str, str]) -> float:
    start = time.perf_counter()
    for argv in run:
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# The API with Nagle's algorithm on: http.server's default. Accepts any token.
NAGLE_ON_API = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"id": "u-alice", "email": "alice@example.com"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
"""


def move_session(home: str, api: str) -> None:
    """Point the logged-in default profile and its record at another API on loopback."""
    import json
    import re

    config = Path(home) / "config.toml"
    config.write_text(re.sub(r'api_url = "[^"]*"', f'api_url = "{api}"', config.read_text()))
    record = Path(home) / "state" / "tokens" / "default.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "api_origin": api}))


def nagle_on(n: int, env: dict[str, str], home: str) -> None:
    upstream = subprocess.Popen([sys.executable, "-c", NAGLE_ON_API], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    api = upstream.stdout.readline().strip()
    move_session(home, api)
    token = subprocess.run([AUTHCLI, "token"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    proxy = subprocess.Popen([AUTHCLI, "proxy", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env=env)
    assert proxy.stdout is not None
    url, secret = proxy.stdout.readline().strip(), proxy.stdout.readline().strip()
    direct_h, proxy_h = ["-H", f"Authorization: Bearer {token}"], ["-H", f"Authorization: Bearer {secret}"]
    try:
        # A new curl per request connects anew each time: a fresh connection ACKs at once, so
        # going direct never stalls, while the proxy reuses its connection to the API.
        rows = [(f"{n} curl processes, direct", timed([["curl", "-sf", *direct_h, f"{api}/users/me"]] * n, env)),
                (f"{n} curl processes, through the proxy",
                 timed([["curl", "-sf", *proxy_h, f"{url}/users/me"]] * n, env)),
                # One curl keeps its connection: direct stalls on curl's own delayed ACKs then.
                (f"1 curl, {n} requests kept alive, direct",
                 timed([["curl", "-sf", *direct_h, *[f"{api}/users/me"] * n]], env)),
                (f"1 curl, {n} requests kept alive, through the proxy",
                 timed([["curl", "-sf", *proxy_h, *[f"{url}/users/me"] * n]], env))]
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=30)
        upstream.terminate()
        upstream.wait(timeout=30)
    print("| what (upstream: http.server, Nagle on) | wall time | ratio |\n|---|---:|---:|")
    for i, (name, seconds) in enumerate(rows):
        print(f"| {name} | {seconds:.2f} s ({seconds / n * 1000:.2f} ms each) | {seconds / rows[i - i % 2][1]:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--nagle-on", action="store_true", help="against a Nagle-on upstream (kept-alive rows only)")
    args = parser.parse_args()
    n = args.requests
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCLI_")}
        env.update(AUTHCLI_CONFIG_DIR=home, AUTHCLI_STORAGE="file")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        server = subprocess.Popen([AUTHCLI, "dev-server", "--access-ttl", "3600"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
        assert server.stdout is not None
        api = server.stdout.readline().strip()
        subprocess.run([AUTHCLI, "login", "--api-url", api, "--email", "alice@example.com", "--password-stdin"],
                       input="alice-password\n", text=True, env=env, check=True, capture_output=True)
        if args.nagle_on:
            try:
                nagle_on(n, env, home)
            finally:
                server.terminate()
                server.wait(timeout=30)
            return
        token = subprocess.run([AUTHCLI, "token"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        proxy = subprocess.Popen([AUTHCLI, "proxy", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, env=env)
        assert proxy.stdout is not None
        url, secret = proxy.stdout.readline().strip(), proxy.stdout.readline().strip()
        try:
            direct_h = ["-H", f"Authorization: Bearer {token}"]
            proxy_h = ["-H", f"Authorization: Bearer {secret}"]
            rows = []
            direct = timed([["curl", "-sf", *direct_h, f"{api}/users/me"]] * n, env)
            via = timed([["curl", "-sf", *proxy_h, f"{url}/users/me"]] * n, env)
            call = timed([[AUTHCLI, "call", "/users/me"]] * n, env)
            rows.append((f"{n} curl processes, direct", direct, 1.0))
            rows.append((f"{n} curl processes, through the proxy", via, via / direct))
            rows.append((f"{n} `authcli call` processes (contrast)", call, call / direct))
            keep_direct = timed([["curl", "-sf", *direct_h, *[f"{api}/users/me"] * n]], env)
            keep_via = timed([["curl", "-sf", *proxy_h, *[f"{url}/users/me"] * n]], env)
            rows.append((f"1 curl, {n} requests kept alive, direct", keep_direct, 1.0))
            rows.append((f"1 curl, {n} requests kept alive, through the proxy", keep_via, keep_via / keep_direct))
            size = int(args.gib * 1024**3)
            down = timed([["curl", "-sf", *proxy_h, "-o", "/dev/null", f"{url}/bytes/{size}"]], env)
            with tempfile.NamedTemporaryFile() as blob:
                blob.truncate(size)  # sparse: the disk is not what is measured
                up = timed([["curl", "-sf", *proxy_h, "-X", "PUT", "-H", "Content-Type: application/octet-stream",
                             "-T", blob.name, f"{url}/echo"]], env)
            rss = peak_rss_mb(proxy.pid)
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(timeout=30)
            server.terminate()
            server.wait(timeout=30)
    print("| what | wall time | ratio |\n|---|---:|---:|")
    for name, seconds, ratio in rows:
        print(f"| {name} | {seconds:.2f} s ({seconds / n * 1000:.2f} ms each) | {ratio:.2f}x |")
    gib = size / 1024**3
    print(f"\n{gib:g} GiB down through the proxy: {down:.1f} s ({gib * 1024 / down:.0f} MiB/s); "
          f"{gib:g} GiB up: {up:.1f} s ({gib * 1024 / up:.0f} MiB/s); proxy peak RSS {rss:.1f} MB")


if __name__ == "__main__":
    main()
