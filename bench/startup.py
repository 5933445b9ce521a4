"""Start-up of the commands scripts run in loops, side by side with their peers (issue 11).

    scripts/with-secret-service.sh .venv/bin/python bench/startup.py [--runs 30]

Each group is ONE hyperfine -N run, so authcli and its peers share the machine's noise; read
the ratios, not the milliseconds. Needs hyperfine and gh (apt-get install hyperfine gh, done
here when missing and running as root), curl, secret-tool inside the private Secret Service,
and HTTPie, installed into a throwaway venv under the system temp dir on first use.

Peers: `gh auth token` with a throwaway GH_CONFIG_DIR holding a plaintext hosts.yml; `secret-tool
lookup` of authcli's own keyring entry; HTTPie's `http` and curl with the same token.
The "encrypted" group (issue 20): `authcli token` of a `--storage encrypted` profile whose key
is in AUTHCLI_STORAGE_KEY, beside the file store and `gh auth token` (goal: at most 1.0x gh).
`--only GROUP` runs one group.
Bytecode caching stays on (PYTHONDONTWRITEBYTECODE is removed from the environment): users
run installed, compiled code, and without it every run compiles authcli's modules again.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
AUTHCLI = str(BIN / "authcli")
HTTPIE_VENV = Path(tempfile.gettempdir()) / "authcli-bench-httpie"


def ensure_tools() -> None:
    missing = [pkg for cmd, pkg in (("hyperfine", "hyperfine"), ("gh", "gh"), ("curl", "curl")) if not shutil.which(cmd)]
    if missing and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not (HTTPIE_VENV / "bin" / "http").exists():
        subprocess.run([sys.executable, "-m", "venv", str(HTTPIE_VENV)], check=True)
        subprocess.run([str(HTTPIE_VENV / "bin" / "pip"), "install", "-q", "httpie"], check=True)


def group(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median seconds of each command, all in one hyperfine run."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = ["hyperfine", "-N", "--warmup", "5", "--runs", str(runs), "--export-json", out.name]
        for name, cmd in commands.items():
            argv += ["-n", name, " ".join(cmd)]
        subprocess.run(argv, env=env, check=True, capture_output=True)
        results = json.loads(Path(out.name).read_text())["results"]
    return {r["command"]: r["median"] for r in results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", metavar="GROUP", help="run only this group (token, encrypted, call, whoami, version)")
    args = parser.parse_args()
    ensure_tools()
    keyring = os.environ.get("AUTHCLI_TEST_SECRET_SERVICE") == "1"
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(AUTHCLI_CONFIG_DIR=home, GH_CONFIG_DIR=str(Path(home) / "gh"),
                   AUTHCLI_STORAGE_KEY=base64.b64encode(os.urandom(32)).decode())
        (Path(home) / "gh").mkdir()
        (Path(home) / "gh" / "hosts.yml").write_text(
            "github.com:\n    oauth_token: gho_benchmarkbenchmarkbenchmark\n    user: bench\n    git_protocol: https\n")
        server = subprocess.Popen([AUTHCLI, "dev-server", "--access-ttl", "3600"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            stores = [("f", "file"), ("e", "encrypted")] + ([("k", "keyring")] if keyring else [])
            for profile, storage in stores:
                subprocess.run([AUTHCLI, "login", "-p", profile, "--api-url", url, "--email", "alice@example.com",
                                "--password-stdin", "--storage", storage], input="alice-password\n", text=True,
                               env=env, check=True, capture_output=True)
            env["AUTHCLI_PROFILE"] = "f"
            token = subprocess.run([AUTHCLI, "token"], env=env, capture_output=True, text=True).stdout.strip()
            header = Path(home) / "auth-header"
            fd = os.open(header, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, f"Authorization: Bearer {token}\n".encode())
            os.close(fd)
            service = f"{env.get('AUTHCLI_KEYRING_SERVICE', 'authcli')}@{os.path.realpath(home)}"
            if keyring and subprocess.run(["secret-tool", "lookup", "service", service, "username", "k"],
                                          capture_output=True).returncode != 0:
                service = env.get("AUTHCLI_KEYRING_SERVICE", "authcli")  # authcli 0.1: not scoped by the dir

            groups: list[tuple[str, dict[str, list[str]], str]] = []
            tokens = {"authcli token (file)": [AUTHCLI, "token"]}
            if keyring:
                tokens["authcli token (keyring)"] = [AUTHCLI, "token", "-p", "k"]
                tokens["secret-tool lookup"] = ["secret-tool", "lookup", "service", service, "username", "k"]
            tokens["gh auth token"] = ["gh", "auth", "token"]
            groups.append(("token", tokens, "gh auth token"))
            groups.append(("encrypted", {"authcli token (encrypted, AUTHCLI_STORAGE_KEY)": [AUTHCLI, "token", "-p", "e"],
                                         "authcli token (file)": [AUTHCLI, "token"],
                                         "gh auth token": ["gh", "auth", "token"]}, "gh auth token"))
            groups.append(("call", {
                "authcli call /users/me": [AUTHCLI, "call", "/users/me"],
                # hyperfine -N splits on spaces: HTTPie's bearer auth needs none
                "HTTPie http GET": [str(HTTPIE_VENV / "bin" / "http"), "--ignore-stdin", "-A", "bearer", "-a", token,
                                    f"{url}/users/me"],
                "curl": ["curl", "-sf", "-H", f"@{header}", f"{url}/users/me"],
            }, "HTTPie http GET"))
            groups.append(("whoami", {"authcli whoami": [AUTHCLI, "whoami"], "gh auth token": ["gh", "auth", "token"]},
                           "gh auth token"))
            groups.append(("version", {"authcli --version": [AUTHCLI, "--version"], "gh --version": ["gh", "--version"]},
                           "gh --version"))
            print("| group | command | median (ms) | ratio to the group's peer |")
            print("|---|---|---|---|")
            for name, commands, peer in groups:
                if args.only and name != args.only:
                    continue
                medians = group(commands, env, args.runs)
                for command, median in medians.items():
                    ratio = "" if command == peer else f"{median / medians[peer]:.2f}x {peer}"
                    print(f"| {name} | {command} | {1000 * median:.0f} | {ratio} |", flush=True)
        finally:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
