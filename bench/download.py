"""Peak memory and throughput of a large download through `authcli call`, beside curl.

    .venv/bin/python bench/download.py [--mib 1024]

Starts the dev server, logs in (file storage, temporary config dir), then downloads
/bytes/N with `authcli call -o FILE`, with `authcli call > pipe` (read by `cat > /dev/null`),
and with curl on the same URL with the same token. Peak RSS is the child's own ru_maxrss
(os.wait4), so it is authcli's process alone. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUTHCLI = str(Path(sys.executable).parent / "authcli")


def measure(args: list[str], env: dict[str, str], stdout: int | None = None) -> tuple[float, int, int]:
    """(seconds, peak RSS in KiB, exit code) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=stdout if stdout is not None else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, AUTHCLI_CONFIG_DIR=home, AUTHCLI_STORAGE="file")
        server = subprocess.Popen([AUTHCLI, "dev-server", "--access-ttl", "3600"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            subprocess.run([AUTHCLI, "login", "--api-url", url, "--email", "alice@example.com", "--password-stdin"],
                           input="alice-password\n", text=True, env=env, check=True, capture_output=True)
            token = subprocess.run([AUTHCLI, "token"], env=env, capture_output=True, text=True, check=True).stdout.strip()
            target = Path(home) / "download.bin"
            rows = []
            t, rss, code = measure([AUTHCLI, "call", f"/bytes/{size}", "-o", str(target)], env)
            assert code == 0 and target.stat().st_size == size
            target.unlink()
            rows.append(("authcli call -o FILE", t, rss))
            with subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) as sink:
                t, rss, code = measure([AUTHCLI, "call", f"/bytes/{size}"], env, stdout=sink.stdin.fileno())  # type: ignore[union-attr]
                sink.stdin.close()  # type: ignore[union-attr]
            assert code == 0
            rows.append(("authcli call > pipe", t, rss))
            if shutil.which("curl"):
                # The token goes in a header file, not on argv (visible in ps).
                header = Path(home) / "auth-header"
                fd = os.open(header, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, f"Authorization: Bearer {token}\n".encode())
                os.close(fd)
                t, rss, code = measure(["curl", "-sf", "-H", f"@{header}", "-o", str(target), f"{url}/bytes/{size}"], env)
                assert code == 0
                rows.append(("curl -o FILE", t, rss))
                with subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) as sink:
                    t, rss, code = measure(["curl", "-sf", "-H", f"@{header}", f"{url}/bytes/{size}"], env,
                                           stdout=sink.stdin.fileno())  # type: ignore[union-attr]
                    sink.stdin.close()  # type: ignore[union-attr]
                rows.append(("curl > pipe", t, rss))
        finally:
            server.terminate()
            server.wait()
    print(f"| {args.mib} MiB from the dev server | wall time (s) | throughput (MiB/s) | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for name, t, rss in rows:
        print(f"| {name} | {t:.2f} | {args.mib / t:.0f} | {rss / 1024:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
