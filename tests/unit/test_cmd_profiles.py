"""Tier two (as in gh) for `authcli profiles` (list), `profiles use` and `profiles remove`: each
function with IOStreams.test(), a dict store and a fake flow -> stdout, stderr, exit code, and
what config.toml says afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli.commands.profiles import ProfileNameOptions, ProfilesOptions, list_profiles, remove, use
from authcli.config import Config, Profile
from authcli.errors import AuthcliError, CorruptRecord
from authcli.tokens import TokenRecord
from tests.fakes import jwt, make_ctx, outcome, profile, record

ALICE = jwt(sub="u-1", email="alice@example.com")


@dataclass
class Case:
    command: Callable[[Any, Any], int]
    opts: Any
    code: int
    out: str = ""
    err: str = ""
    profiles: list[Profile] | None = field(default_factory=lambda: [profile(), profile("ci", "https://ci.example.com")])
    current: str | None = None
    records: dict[str, TokenRecord] = field(default_factory=dict)
    unreadable: dict[str, AuthcliError] = field(default_factory=dict)
    names: list[str] | None = None  # the profiles in config.toml afterwards (None: unchanged)
    now_current: str | None = None
    told: list[str | None] = field(default_factory=list)


TABLE = (
    "   PROFILE  API URL                  USER               SESSION    STORAGE\n"
    "   ci       https://ci.example.com   ci-bot             renewable  file\n"
    "*  default  https://api.example.com  alice@example.com  active     file\n"
    "   old      https://api.example.com  -                  expired    file\n"
    "   spare    https://api.example.com  -                  none       file\n"
)

ROWS = [
    {"name": "ci", "current": False, "api_url": "https://api.example.com", "storage": "file", "user": None,
     "session": "unknown", "error": "unreadable"},
    {"name": "default", "current": True, "api_url": "https://api.example.com", "storage": "file",
     "user": "alice@example.com", "session": "active"},
]

CASES = [
    pytest.param(Case(list_profiles, ProfilesOptions(), 0, TABLE,
                      profiles=[profile(), profile("ci", "https://ci.example.com"), profile("old"), profile("spare")],
                      records={"default": record(ALICE),
                               "ci": record(jwt(sub="ci-bot"), expires_in=-5, origin="https://ci.example.com:443"),
                               "old": record(refresh=None, expires_in=-5)}),
                 id="list: a table, current first column, sorted"),
    pytest.param(Case(list_profiles, ProfilesOptions(json=True), 0, json.dumps(ROWS, indent=2) + "\n",
                      profiles=[profile(), profile("ci")], current="default", records={"default": record(ALICE)},
                      unreadable={"ci": CorruptRecord("unreadable")}),
                 id="list --json: one broken profile is one row with its error"),
    pytest.param(Case(list_profiles, ProfilesOptions(), 0,
                      err="No profiles yet; create one with: authcli login --api-url URL\n", profiles=None),
                 id="list: none yet"),
    pytest.param(Case(list_profiles, ProfilesOptions(json=True), 0, "[]\n", profiles=None),
                 id="list --json: none yet"),
    pytest.param(Case(use, ProfileNameOptions("ci"), 0, err="Profile 'ci' is now the default.\n",
                      names=["ci", "default"], now_current="ci"),
                 id="use"),
    pytest.param(Case(remove, ProfileNameOptions("ci"), 0, err="Removed profile 'ci' and its stored tokens.\n",
                      current="ci", records={"ci": record(origin="https://ci.example.com:443")},
                      names=["default"], now_current=None, told=["refresh-1"]),
                 id="remove: the session ended, the profile gone, no longer current"),
    pytest.param(Case(remove, ProfileNameOptions("ci"), 0, err="Removed profile 'ci' and its stored tokens.\n",
                      names=["default"]),
                 id="remove a profile without a session"),
    # errors
    pytest.param(Case(use, ProfileNameOptions("nope"), 2,
                      err="authcli: unknown profile 'nope' (known: ci, default); create it with authcli login "
                          "--profile nope\n", names=["ci", "default"]),
                 id="use: unknown profile"),
    pytest.param(Case(remove, ProfileNameOptions("nope"), 2,
                      err="authcli: unknown profile 'nope' (known: ci, default); create it with authcli login "
                          "--profile nope\n", names=["ci", "default"]),
                 id="remove: unknown profile"),
    pytest.param(Case(use, ProfileNameOptions("default"), 2,
                      err="authcli: unknown profile 'default' (known: none yet); create it with authcli login "
                          "--profile default\n", profiles=None),
                 id="use: no config"),
]


@pytest.mark.parametrize("case", CASES)
def test_profiles(tmp_path: Path, case: Case) -> None:
    home = tmp_path / "home"
    ctx = make_ctx(home, case.profiles, current=case.current, records=case.records)
    ctx.store_.unreadable = dict(case.unreadable)
    assert outcome(case.command, case.opts, ctx) == (case.code, case.out, case.err)
    config = Config.load(home / "config.toml")
    before = sorted(p.name for p in case.profiles or [])
    assert sorted(config.profiles) == (before if case.names is None else case.names)
    assert config.current == (case.current if case.names is None else case.now_current)
    assert [token for call, token in ctx.flow_.calls if call == "logout"] == case.told


def test_a_hand_edited_bad_name_is_one_row_shown_escaped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ctx = make_ctx(home)
    (home / "config.toml").write_text('current_profile = "default"\n[profiles.default]\napi_url = '
                                      '"https://api.example.com"\nstorage = "file"\n[profiles."evil\\u001b[2J"]\n'
                                      'api_url = "https://api.example.com"\nstorage = "file"\n')
    code, out, err = outcome(list_profiles, ProfilesOptions(), ctx)
    assert (code, err) == (0, "")
    header, default, evil = out.splitlines()
    assert header.split() == ["PROFILE", "API", "URL", "USER", "SESSION", "STORAGE"]
    assert default.split() == ["*", "default", "https://api.example.com", "-", "none", "file"]
    assert evil.startswith("   evil\\x1b[2J  https://api.example.com  -     unknown (invalid profile name "
                           "'evil\\x1b[2J': use up to 64 letters")
    assert evil.endswith(")  file") and "\x1b" not in out
