"""Shell completion: committed scripts are current, and bash, zsh and fish really complete."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, DevServer

ROOT = Path(__file__).resolve().parents[2]
COMPLETIONS = ROOT / "completions"
REQUIRE_SHELLS = os.environ.get("AUTHCLI_REQUIRE_SHELLS") == "1"


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        if REQUIRE_SHELLS:
            pytest.fail(f"AUTHCLI_REQUIRE_SHELLS=1 but {shell} is not installed")
        pytest.skip(f"{shell} is not installed")
    return path


def shell_env(cli: Cli) -> dict[str, str]:
    # The completion scripts call `authcli` from PATH, as an installed one would be.
    return {**cli.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_committed_scripts_are_current(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_completions.py"), str(tmp_path)], check=True,
                   capture_output=True)
    for fresh in tmp_path.iterdir():
        committed = COMPLETIONS / fresh.name
        assert committed.exists(), f"{committed} is missing: run scripts/gen_completions.py"
        assert committed.read_text() == fresh.read_text(), f"{committed} is stale: run scripts/gen_completions.py"
    assert (COMPLETIONS / "_authcli").read_text().startswith("#compdef authcli\n")


def bash_complete(cli: Cli, *words: str) -> list[str]:
    script = (
        f"source {COMPLETIONS / 'authcli.bash'}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_authcli_completion authcli\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run([need("bash"), "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                         env=shell_env(cli), check=True).stdout
    return [line for line in out.splitlines() if line]


def test_bash_completes_commands_options_and_profiles(cli: Cli, server: DevServer) -> None:
    assert bash_complete(cli, "authcli", "lo") == ["login", "logout"]
    options = bash_complete(cli, "authcli", "call", "--")
    assert {"--header", "--query", "--data", "--field", "--paginate", "--output", "--no-fail"} <= set(options)
    assert cli.login(server.url, "--storage", "file").code == 0
    assert cli.login(server.url, "--storage", "file", "--profile", "staging").code == 0
    assert bash_complete(cli, "authcli", "whoami", "--profile", "") == ["default", "staging"]
    assert bash_complete(cli, "authcli", "profiles", "use", "st") == ["staging"]


def test_completing_touches_no_keyring_and_no_network(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    before = server.stats()
    # A keyring that would fail loudly, and a config whose storage is the keyring.
    env = {**shell_env(cli), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "AUTHCLI_STORAGE": "keyring"}
    out = subprocess.run([sys.executable, "-m", "authcli"], env={**env, "_AUTHCLI_COMPLETE": "complete_bash",
                         "COMP_WORDS": "authcli token --profile ", "COMP_CWORD": "3"}, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["default"], out
    assert server.stats() == before


def test_fish_completes_subcommands(cli: Cli) -> None:
    fish = need("fish")
    out = subprocess.run([fish, "--no-config", "-c", f"source {COMPLETIONS / 'authcli.fish'}; complete -C 'authcli lo'"],
                         capture_output=True, text=True, env=shell_env(cli), check=True).stdout
    assert [line.split("\t")[0] for line in out.splitlines()] == ["login", "logout"]


def test_zsh_script_loads_from_fpath_and_completes(cli: Cli) -> None:
    zsh = need("zsh")
    script = (
        f"fpath=({COMPLETIONS} $fpath)\n"
        "autoload -Uz compinit && compinit -u -D\n"
        "[[ $_comps[authcli] == _authcli ]] || { echo 'not registered'; exit 1 }\n"
        "autoload -Uz _authcli\n"
        # What _authcli evaluates when the user presses TAB after `authcli lo`:
        "_arguments() { print -r -- \"$@\" }\n"
        "words=(authcli lo); CURRENT=2\n"
        "_authcli\n"
    )
    out = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=shell_env(cli))
    assert out.returncode == 0, out.stderr + out.stdout
    assert '"login":' in out.stdout and '"logout":' in out.stdout
    assert '"whoami":' not in out.stdout
