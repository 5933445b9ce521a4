"""Tier two (as in gh) for `authcli git-credential`: run(opts, ctx) with git's request on
IOStreams.test()'s stdin, a dict store and a fake flow -> stdout, stderr, exit code. git itself
is the real one, reading a global config of the test's own (GIT_CONFIG_GLOBAL)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.git_credential import GitCredentialOptions, run
from authcli.gitsetup import helper_command
from tests.fakes import ALICE, HelperCase, make_ctx, outcome, profile, record

ASK = "protocol=https\nhost=api.example.com\n\n"
ANSWER = "username=alice@example.com\npassword={token}\npassword_expiry_utc=1700003600\n"
FRESH = record("access-2", "refresh-2", expires_in=7200.0)


@dataclass
class Case(HelperCase[GitCredentialOptions]):
    refreshes: list[Any] = field(default_factory=list)
    gitconfig: str = ""  # the user's global git config
    stored: str | None = ALICE  # the default profile's access token afterwards


CASES = [
    pytest.param(Case(GitCredentialOptions("get"), ASK, 0, ANSWER.format(token=ALICE)),
                 id="get: the session's user and token"),
    pytest.param(Case(GitCredentialOptions("get"), ASK.replace("\n\n", "\nusername=alice@example.com\n\n"), 0,
                      ANSWER.format(token=ALICE)),
                 id="get: git names our user"),
    pytest.param(Case(GitCredentialOptions("get", username="oauth2"), ASK, 0,
                      ANSWER.format(token=ALICE).replace("alice@example.com", "oauth2")),
                 id="get: --username"),
    pytest.param(Case(GitCredentialOptions("get"), ASK, 0, ANSWER.format(token=ALICE).replace("alice@example.com", "x"),
                      profiles=[profile(git_username="x")]),
                 id="get: the profile's git_username"),
    pytest.param(Case(GitCredentialOptions("get"), ASK, 0, "username=alice@example.com\npassword=access-2\n"
                      "password_expiry_utc=1700007200\n", records={"default": record(ALICE, expires_in=-1)},
                      refreshes=[FRESH], stored="access-2"),
                 id="get: an expired token is refreshed first"),
    pytest.param(Case(GitCredentialOptions("get"), "protocol=https\nhost=git.example.com\n\n", 0),
                 id="get: an origin no profile has gets no answer"),
    pytest.param(Case(GitCredentialOptions("get"), "protocol=http\nhost=api.example.com\n\n", 0),
                 id="get: the same host over http is another origin"),
    pytest.param(Case(GitCredentialOptions("get"), "protocol=ssh\nhost=api.example.com\n\n", 0),
                 id="get: not http(s)"),
    pytest.param(Case(GitCredentialOptions("get"), ASK.replace("\n\n", "\nusername=bob\n\n"), 0),
                 id="get: someone else's remote"),
    pytest.param(Case(GitCredentialOptions("get", profile="ci"), ASK, 0,
                      profiles=[profile(), profile("ci", "https://ci.example.com")]),
                 id="get: the named profile is for another origin"),
    pytest.param(Case(GitCredentialOptions("get"), ASK, 0,
                      err="authcli: warning: profile 'default' holds DPoP-bound tokens, which git cannot present; "
                          "no answer\n", profiles=[profile(dpop=True)]),
                 id="get: dpop, no answer"),
    pytest.param(Case(GitCredentialOptions("store"), ASK.replace("\n\n", "\nusername=u\npassword=p\n\n"), 0),
                 id="store: nothing kept"),
    pytest.param(Case(GitCredentialOptions("erase"), ASK.replace("\n\n", f"\npassword={ALICE}\n\n"), 0,
                      refreshes=[FRESH], stored="access-2"),
                 id="erase of our token: refreshed at once"),
    pytest.param(Case(GitCredentialOptions("erase"), ASK.replace("\n\n", "\npassword=older\n\n"), 0),
                 id="erase of another password: nothing"),
    pytest.param(Case(GitCredentialOptions(configure="https://API.example.com", git_config="{tmp}/repo.config"), "",
                      0, err="git now asks only authcli (profile 'default') for https://api.example.com; in "
                             "{tmp}/repo.config:\n"
                             "  credential.https://api.example.com.helper =   (empty: drops the helpers configured "
                             "before)\n"
                             "  credential.https://api.example.com.helper = {helper}\n"),
                 id="configure"),
    # errors
    pytest.param(Case(GitCredentialOptions(), "", 2,
                      err="authcli: git-credential needs the action git passes (get, store or erase), or --configure "
                          "URL\n"),
                 id="no action"),
    pytest.param(Case(GitCredentialOptions("get", git_config="x"), "", 2,
                      err="authcli: --git-config goes with --configure URL\n"),
                 id="git-config without configure"),
    pytest.param(Case(GitCredentialOptions("get", configure="https://api.example.com"), "", 2,
                      err="authcli: --configure sets git up and takes no action; git passes get, store or erase "
                          "itself\n"),
                 id="configure with an action"),
    pytest.param(Case(GitCredentialOptions(configure="https://git.example.com"), "", 2,
                      err="authcli: no profile is for https://git.example.com: git-credential answers only for a "
                          "profile's own API origin; log in with authcli login --api-url https://git.example.com, or "
                          "name the profile with --profile\n"),
                 id="configure for an origin no profile has"),
    pytest.param(Case(GitCredentialOptions(configure="https://api.example.com"), "", 2,
                      err="authcli: profile 'default' holds DPoP-bound tokens, which git cannot present\n",
                      profiles=[profile(dpop=True)]),
                 id="configure: dpop"),
    pytest.param(Case(GitCredentialOptions("get", username="a\tb"), ASK, 2,
                      err="authcli: --username must be a non-empty user name without control characters\n"),
                 id="get: a username with a control character"),
    pytest.param(Case(GitCredentialOptions("get"), ASK, 4, err="authcli: not logged in; run authcli login\n",
                      records={}, stored=None),
                 id="get: not logged in"),
    pytest.param(Case(GitCredentialOptions("get"), ASK, 2,
                      err="authcli: git would also hand this token to 1 other credential helper(s) for "
                          "https://api.example.com (configured in file:{tmp}/gitconfig), which may keep it and serve "
                          "it stale; run authcli git-credential --configure https://api.example.com (with --git-config "
                          "FILE for a helper in a repository's config) or remove them; no answer\n",
                      gitconfig="[credential]\n\thelper = store\n[credential \"https://api.example.com\"]\n\thelper = "
                                "authcli\n"),
                 id="get: another helper would keep the token"),
]


@pytest.mark.parametrize("case", CASES)
def test_git_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    tmp = tmp_path.as_posix()
    (tmp_path / "gitconfig").write_text(case.gitconfig)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records, stdin=case.stdin)
    ctx.flow_.refreshes = list(case.refreshes)
    opts = replace(case.opts, git_config=case.opts.git_config and case.opts.git_config.format(tmp=tmp))
    helper = helper_command(["git-credential", "--profile", "default"])
    assert outcome(run, opts, ctx) == (case.code, case.out, case.err.format(tmp=tmp, helper=helper))
    assert ctx.flow_.refreshes == [], "a refresh the case expected did not happen"
    kept = ctx.store_.records.get("default")
    assert (kept.access_token if kept else None) == case.stored


def test_configure_writes_the_empty_helper_then_authcli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    target = tmp_path / "repo.config"
    ctx = make_ctx(tmp_path / "home", [profile()])
    assert run(GitCredentialOptions(configure="https://api.example.com", git_config=str(target)), ctx) == 0
    assert run(GitCredentialOptions(configure="https://api.example.com", git_config=str(target)), ctx) == 0  # again
    values = subprocess.run(["git", "config", "--file", str(target), "--get-all",
                             "credential.https://api.example.com.helper"], capture_output=True, text=True, check=True)
    assert values.stdout == "\n" + helper_command(["git-credential", "--profile", "default"]) + "\n"
