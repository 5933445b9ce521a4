"""git's credential helper (issue 18), with the real git: a setup that cannot leak the token to
a general helper, answers only for the profile's git user name, and `erase` of the token
authcli handed out refreshing the session. Also git's own helper test suite, t0303."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.conftest import AUTHCLI, DEMO_EMAIL, Cli, DevServer, one_error_line
from tests.helpers import expired_session

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_T0303 = os.environ.get("AUTHCLI_REQUIRE_GIT_T0303") == "1"


@pytest.fixture
def git_env(cli: Cli, tmp_path: Path) -> dict[str, str]:
    """git with a HOME and global config of its own, and no system config or prompts."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    home = tmp_path / "git-home"
    home.mkdir()
    cli.env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"), GIT_CONFIG_NOSYSTEM="1",
                   GIT_TERMINAL_PROMPT="0")
    cli.env.pop("GIT_ASKPASS", None)
    cli.env.pop("SSH_ASKPASS", None)
    return cli.env


def git(env: dict[str, str], *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], input=input, capture_output=True, text=True, env=env, timeout=120)


def request(url: str, **attrs: str) -> str:
    protocol, host = url.split("://")
    lines = [f"protocol={protocol}", f"host={host}", *(f"{k}={v}" for k, v in attrs.items())]
    return "\n".join(lines) + "\n\n"


def answer(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def store_file(env: dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".git-credentials"


# -- the setup: only authcli answers for the URL ---------------------------------------------

def old_readme_setup(env: dict[str, str], url: str) -> None:
    """What the README said before issue 18: authcli appended to git's helper list."""
    assert git(env, "config", "--global", "--add", f"credential.{url}.helper", f"!{AUTHCLI} git-credential").returncode == 0


def configure(env: dict[str, str], url: str, *flags: str) -> None:
    proc = subprocess.run([AUTHCLI, "git-credential", "--configure", url, *flags], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def add_store(env: dict[str, str], url: str) -> list[str]:
    assert git(env, "config", "--global", "--add", "credential.helper", "store").returncode == 0
    return []


def stale_token(env: dict[str, str], url: str) -> list[str]:
    protocol, host = url.split("://")
    store_file(env).write_text(f"{protocol}://{DEMO_EMAIL.replace('@', '%40')}:stale-token@{host}\n")
    store_file(env).chmod(0o600)
    return []


def configure_step(env: dict[str, str], url: str) -> list[str]:
    configure(env, url)
    return []


def old_readme_step(env: dict[str, str], url: str) -> list[str]:
    old_readme_setup(env, url)
    return []


def store_on_command_line(env: dict[str, str], url: str) -> list[str]:
    return ["-c", "credential.helper=store"]  # read after every config file


def repo_store(env: dict[str, str], url: str) -> list[str]:
    """A repository whose own config has a general helper (read after the global config)."""
    repo = Path(env["HOME"]) / "repo"
    assert git(env, "init", "-q", str(repo)).returncode == 0
    assert git(env, "-C", str(repo), "config", "credential.helper", "store").returncode == 0
    return ["-C", str(repo)]


def configure_in_repo(env: dict[str, str], url: str) -> list[str]:
    configure(env, url, "--git-config", str(Path(env["HOME"]) / "repo" / ".git" / "config"))
    return []


ANSWERED, REFUSED = "answered", "refused"
SETUPS = [
    # the steps, in order; what authcli does with git's `get`
    ("store, then --configure", [add_store, configure_step], ANSWERED),
    ("stale token in store, then --configure", [stale_token, add_store, configure_step], ANSWERED),
    ("--configure, then store after it", [configure_step, add_store], REFUSED),
    ("--configure again puts authcli last", [configure_step, add_store, configure_step], ANSWERED),
    ("--configure, store on the command line", [configure_step, store_on_command_line], REFUSED),
    ("--configure, store in the repository", [configure_step, repo_store], REFUSED),
    ("--configure in the repository too", [configure_step, repo_store, configure_in_repo], ANSWERED),
    ("the old README's setup alone", [old_readme_step], ANSWERED),
    ("the old README's setup after store", [add_store, old_readme_step], REFUSED),
]


@pytest.mark.parametrize(("steps", "expected"), [s[1:] for s in SETUPS], ids=[s[0] for s in SETUPS])
def test_no_general_helper_gets_the_token(cli: Cli, server: DevServer, git_env: dict[str, str],
                                          steps: list[Any], expected: str) -> None:
    """git's fill/approve cycle, as for every fetch: authcli answers only when it is the one
    helper git runs for the URL, so a general `store` helper is never handed the token to
    write down, nor asked first and serving a stale one."""
    assert cli.login(server.url, "--storage", "file").code == 0
    extra: list[str] = []
    for step in steps:
        extra += step(git_env, server.url)
    before = store_file(git_env).read_text() if store_file(git_env).exists() else None
    filled = git(git_env, *extra, "credential", "fill", input=request(server.url))
    token = cli.run("token").out.strip()
    if filled.returncode == 0:  # the fetch worked: git approves, handing every helper the answer
        approved = git(git_env, *extra, "credential", "approve", input=filled.stdout)
        assert approved.returncode == 0, approved.stderr
    after = store_file(git_env).read_text() if store_file(git_env).exists() else None
    assert token not in (after or ""), "the token leaked into ~/.git-credentials"
    assert after == before
    if expected == ANSWERED:
        assert filled.returncode == 0, filled.stderr
        assert answer(filled.stdout)["password"] == token
    else:
        assert filled.returncode != 0 and token not in filled.stdout
        assert "authcli: git would also hand this token to 1 other credential helper(s)" in filled.stderr


def test_configure_writes_the_reset_then_the_helper_and_replaces_itself(cli: Cli, server: DevServer,
                                                                         git_env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    for _ in range(2):
        configure(git_env, server.url + "/")
    listed = git(git_env, "config", "--global", "--get-all", f"credential.{server.url}.helper")
    assert listed.stdout.splitlines() == ["", f"!{AUTHCLI} git-credential --profile default"]

    repo_config = tmp_path / "repo.gitconfig"
    result = cli.run("git-credential", "--configure", server.url, "--username", "x-access-token",
                     "--git-config", str(repo_config))
    assert result.code == 0, result
    listed = git(git_env, "config", "--file", str(repo_config), "--get-all", f"credential.{server.url}.helper")
    assert listed.stdout.splitlines() == ["", f"!{AUTHCLI} git-credential --profile default --username x-access-token"]


@pytest.mark.parametrize(("args", "message"), [
    (["--configure", "http://127.0.0.1:1"], "no profile is for http://127.0.0.1:1"),
    (["--configure", "{url}/org/repo.git"], "give scheme://host[:port] only"),
    (["--configure", "http://oauth2@127.0.0.1:1"], "must not contain a user name"),
    (["--configure", "ftp://127.0.0.1"], "invalid git URL"),
    (["get", "--configure", "{url}"], "takes no action"),
    (["--configure", "{url}", "--username", ""], "--username must be a non-empty user name"),
    (["get", "--git-config", "x"], "--git-config goes with --configure"),
    ([], "needs the action git passes"),
])
def test_configure_refuses(cli: Cli, server: DevServer, git_env: dict[str, str], args: list[str],
                           message: str) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    result = cli.run("git-credential", *(a.format(url=server.url) for a in args))
    assert result.code == 2, result
    assert message in one_error_line(result)
    assert not Path(git_env["GIT_CONFIG_GLOBAL"]).exists()


# -- get answers only for the profile's git user name ----------------------------------------

def set_git_username(cli: Cli, value: str) -> None:
    path = cli.home / "config.toml"
    config = tomllib.loads(path.read_text())
    config["profiles"]["default"]["git_username"] = value
    path.write_text(tomli_w.dumps(config))


USERNAMES = [
    # flags, git_username in config.toml, the username git sends, the username answered (None: no answer)
    ([], None, None, DEMO_EMAIL),
    ([], None, DEMO_EMAIL, DEMO_EMAIL),
    ([], None, "mallory", None),
    ([], None, "", None),
    (["--username", "oauth2"], None, None, "oauth2"),
    (["--username", "oauth2"], None, "oauth2", "oauth2"),
    (["--username", "oauth2"], None, DEMO_EMAIL, None),
    ([], "x-access-token", None, "x-access-token"),
    ([], "x-access-token", "x-access-token", "x-access-token"),
    ([], "x-access-token", DEMO_EMAIL, None),
    (["--username", "oauth2"], "x-access-token", "oauth2", "oauth2"),  # the flag wins
]


@pytest.mark.parametrize(("flags", "configured", "sent", "answered"), USERNAMES)
def test_get_answers_only_for_the_profiles_git_username(cli: Cli, server: DevServer, flags: list[str],
                                                         configured: str | None, sent: str | None,
                                                         answered: str | None) -> None:
    expired_session(cli, server)
    if configured is not None:
        set_git_username(cli, configured)
    attrs = {} if sent is None else {"username": sent}
    result = cli.run("git-credential", "get", *flags, input=request(server.url, **attrs))
    assert result.code == 0 and result.err == "", result
    if answered is None:
        assert result.out == ""
        assert server.stats()["refreshes"] == 0  # someone else's request does not touch the session
    else:
        got = answer(result.out)
        assert got["username"] == answered
        assert got["password"] == cli.run("token").out.strip()


def test_a_git_username_with_a_control_character_is_refused(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    set_git_username(cli, "oauth2\nusername=x")
    result = cli.run("git-credential", "get", input=request(server.url))
    assert result.code == 2 and result.out == ""
    assert "git_username in config.toml must be" in one_error_line(result)


def test_git_uses_the_username_of_the_remote_url(cli: Cli, server: DevServer, git_env: dict[str, str]) -> None:
    """A remote URL with a user in it (https://oauth2@host/...) makes git send that username."""
    assert cli.login(server.url, "--storage", "file").code == 0
    proc = subprocess.run([AUTHCLI, "git-credential", "--configure", server.url, "--username", "oauth2"],
                          capture_output=True, text=True, env=git_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    protocol, host = server.url.split("://")
    for user, ours in (("oauth2", True), ("someone", False)):
        filled = git(git_env, "credential", "fill", input=f"url={protocol}://{user}@{host}/repo.git\n\n")
        if ours:
            assert answer(filled.stdout)["password"] == cli.run("token").out.strip(), filled.stderr
        else:
            assert filled.returncode != 0 and "password=" not in filled.stdout  # no helper answered


# -- erase of the token authcli gave out: the server refused it --------------------------------

def test_erase_of_the_token_handed_out_makes_the_next_get_a_new_one(cli: Cli, server: DevServer,
                                                                    git_env: dict[str, str]) -> None:
    """git fill -> the server answers 401 -> git reject (erase) -> the next fill: a new token,
    from one refresh; erasing the same token again (a second git process that saw it refused
    too) refreshes no more."""
    assert cli.login(server.url, "--storage", "file").code == 0
    configure(git_env, server.url)
    first = git(git_env, "credential", "fill", input=request(server.url))
    assert first.returncode == 0, first.stderr
    assert server.stats()["refreshes"] == 0
    rejected = git(git_env, "credential", "reject", input=first.stdout)
    assert rejected.returncode == 0 and rejected.stderr == "", rejected.stderr
    assert server.stats()["refreshes"] == 1
    second = git(git_env, "credential", "fill", input=request(server.url))
    assert answer(second.stdout)["password"] != answer(first.stdout)["password"]
    assert answer(second.stdout)["password"] == cli.run("token").out.strip()
    assert git(git_env, "credential", "reject", input=first.stdout).returncode == 0
    assert server.stats()["refreshes"] == 1


@pytest.mark.parametrize(("password", "username"), [
    ("not-the-token", None),
    ("", None),
    (None, None),
    ("{token}", "mallory"),
])
def test_erase_of_anything_else_changes_nothing(cli: Cli, server: DevServer, password: str | None,
                                                username: str | None) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    token = cli.run("token").out.strip()
    before = cli.snapshot()
    attrs = {} if username is None else {"username": username}
    if password is not None:
        attrs["password"] = password.format(token=token)
    result = cli.run("git-credential", "erase", input=request(server.url, **attrs))
    assert result.code == 0 and result.out == "" and result.err == "", result
    assert cli.snapshot() == before
    assert server.stats()["refreshes"] == 0


def test_erase_for_another_origin_changes_nothing(cli: Cli, server: DevServer) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    token = cli.run("token").out.strip()
    before = cli.snapshot()
    other = server.url.rsplit(":", 1)[0] + ":1"
    result = cli.run("git-credential", "erase", input=request(other, password=token))
    assert result.code == 0 and result.out == ""
    assert cli.snapshot() == before


def test_an_operation_git_may_add_later_is_ignored(cli: Cli, server: DevServer) -> None:
    """gitcredentials(7): a helper ignores operations it does not know."""
    assert cli.login(server.url, "--storage", "file").code == 0
    result = cli.run("git-credential", "capability", input=request(server.url))
    assert (result.code, result.out, result.err) == (0, "", "")


# -- git's own helper test suite --------------------------------------------------------------

def test_git_t0303_credential_external(tmp_path: Path) -> None:
    """scripts/git-t0303.sh runs t/t0303-credential-external.sh of the installed git's source
    against authcli; the script lists the cases that cannot apply to a helper that does not
    store git's passwords, and fails when any other case fails (or a skipped one passes)."""
    if shutil.which("git") is None or shutil.which("make") is None or shutil.which("cc") is None:
        reason = "git, make and a C compiler are needed to run git's t0303"
        if REQUIRE_T0303:
            pytest.fail(f"AUTHCLI_REQUIRE_GIT_T0303=1 but {reason}")
        pytest.skip(reason)
    env = {**os.environ, "AUTHCLI": AUTHCLI, "TMPDIR": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("AUTHCLI_") or k == "AUTHCLI_GIT_T0303_CACHE"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "git-t0303.sh")], capture_output=True, text=True,
                          env=env, timeout=1800)
    if proc.returncode == 3:  # the script's "could not obtain git's source"
        if REQUIRE_T0303:
            pytest.fail(f"AUTHCLI_REQUIRE_GIT_T0303=1 but git's source could not be fetched: {proc.stderr[-2000:]}")
        pytest.skip(f"git's source could not be fetched: {proc.stderr.strip().splitlines()[-1:]}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "# passed all" in proc.stdout or "# failed 0" in proc.stdout, proc.stdout[-4000:]
