"""Tier two (as in gh) for `authcli call`, the part decided before anything is sent: run(opts, ctx)
with IOStreams.test() and a dict store -> stdout, stderr, exit code. Requests and answers are
tier two against the real dev server: tests/integration/test_cmd_call.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from authcli.commands.call import CallOptions, run
from authcli.config import Profile
from tests.fakes import make_ctx, outcome, profile, record

CASES = [
    pytest.param(CallOptions("GE T", "/x"), 2, "invalid HTTP method 'GE T'", id="a bad method"),
    pytest.param(CallOptions("/a\tb"), 2, "invalid path '/a\\tb': it contains control characters (a tab, a line "
                 "break...)", id="a control character in the path"),
    pytest.param(CallOptions("https://evil.example.net/users/me"), 2,
                 "refusing to call https://evil.example.net:443: the session's token belongs to "
                 "https://api.example.com:443; use a path relative to the API", id="a URL on another origin"),
    pytest.param(CallOptions("ftp://api.example.com/x"), 2, "invalid URL 'ftp://api.example.com/x'",
                 id="not an http URL"),
    pytest.param(CallOptions("/x", timeout=0), 2, "--timeout must be a number of seconds above 0 and at most 86400",
                 id="zero timeout"),
    pytest.param(CallOptions("/x", retry=-1), 2, "--retry must be zero or more", id="negative retry"),
    pytest.param(CallOptions("/x", headers=["NoColon"]), 2, "invalid header 'NoColon': expected 'Name: value'",
                 id="a header without a colon"),
    pytest.param(CallOptions("/x", headers=["Authorization: Bearer mine"]), 2,
                 "refusing the Authorization header: authcli attaches the session's token itself",
                 id="an Authorization header"),
    pytest.param(CallOptions("/x", query=["novalue"]), 2, "invalid query parameter 'novalue': expected key=value",
                 id="a query parameter without ="),
    pytest.param(CallOptions("/x", data="a", fields=["b=1"]), 2, "use --data or --field, not both",
                 id="data and fields"),
    pytest.param(CallOptions("/x", fields=["n:={"]), 2, None, id="a field of bad JSON"),
    pytest.param(CallOptions("/x", data="text", chunked=True), 2, "--chunked is for --data @- (stdin streamed as it "
                 "comes)", id="chunked without stdin"),
    pytest.param(CallOptions("/x", output="{tmp}"), 2, "-o {tmp} is a directory; name a file in it",
                 id="output to a directory"),
    pytest.param(CallOptions("/x", profile="nope"), 2, "unknown profile 'nope' (known: default); create it with "
                 "authcli login --profile nope", id="unknown profile"),
]


@pytest.mark.parametrize(("opts", "code", "message"), CASES)
def test_call_refused_before_sending(tmp_path: Path, opts: CallOptions, code: int, message: str | None) -> None:
    ctx = make_ctx(tmp_path / "home", [profile()], records={"default": record()})
    got = outcome(run, replace(opts, output=opts.output and opts.output.format(tmp=tmp_path)), ctx)
    if message is None:  # the JSON parser's own words follow the field's name
        assert got[:2] == (code, "") and got[2].startswith("authcli: field 'n': invalid JSON ("), got
    else:
        assert got == (code, "", f"authcli: {message.format(tmp=tmp_path)}\n")


@pytest.mark.parametrize(("profiles", "message"), [
    ([profile()], "not logged in; run authcli login"),
    (None, "not logged in; run authcli login --api-url URL"),
    ([profile(api_url=None)], "profile 'default' has no api_url; run authcli login --api-url URL"),
], ids=["no session", "no config", "a profile without an API URL"])
def test_call_without_a_session(tmp_path: Path, profiles: list[Profile] | None, message: str) -> None:
    ctx = make_ctx(tmp_path / "home", profiles)
    code = 2 if "api_url" in message else 4
    assert outcome(run, CallOptions("/users/me"), ctx) == (code, "", f"authcli: {message}\n")
