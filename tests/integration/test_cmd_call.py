"""Tier two (as in gh) for `authcli call` against the real dev server: run(opts, ctx) in this
process with IOStreams.test(), the real file store and the real HTTP client -> stdout, stderr,
exit code. (The same command as a subprocess is tests/integration/test_call.py.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from authcli.commands.call import CallOptions, run
from authcli.context import Context
from authcli.iostreams import IOStreams
from tests.conftest import Cli, DevServer
from tests.fakes import outcome

ALICE = '{"id": "u-alice", "email": "alice@example.com", "name": "Alice Example"}'
ITEMS, PAGE = 12, 5  # the dev server's /items


@dataclass
class Case:
    opts: CallOptions
    code: int
    out: str | None  # None: checked by the row's own test below
    err: str = ""
    stdin: str = ""


CASES = [
    pytest.param(Case(CallOptions("/users/me"), 0, ALICE), id="GET: the body on stdout"),
    pytest.param(Case(CallOptions("GET", "users/me"), 0, ALICE), id="a method and a relative path"),
    pytest.param(Case(CallOptions("/status/404"), 1, '{"status": 404}', "authcli: HTTP 404 Not Found\n"),
                 id="an error status: the body on stdout, one line on stderr, exit 1"),
    pytest.param(Case(CallOptions("/status/503", fail=False), 0, '{"status": 503}'), id="--no-fail"),
    pytest.param(Case(CallOptions("/status/204"), 0, ""), id="no content"),
    pytest.param(Case(CallOptions("/echo", fields=["name=widget", "count=3", "tags:=[1]"]), 0, None),
                 id="fields make a JSON POST"),
    pytest.param(Case(CallOptions("PUT", "/echo", data="@-", query=["a=1", "a=2"], headers=["X-Test: yes"]), 0, None,
                      stdin="raw body"),
                 id="a raw body from stdin, query and headers"),
    pytest.param(Case(CallOptions("/items", paginate=True), 0, None), id="paginate: one array"),
    pytest.param(Case(CallOptions("/items?fail_page=2", paginate=True), 1, None,
                      "authcli: HTTP 500 Internal Server Error\n"),
                 id="paginate: an error page after what was collected"),
]


@pytest.mark.parametrize("case", CASES)
def test_call(cli: Cli, server: DevServer, case: Case) -> None:
    assert cli.login(server.url, "--storage", "file").code == 0
    ctx = Context(io=IOStreams.test(stdin=case.stdin), env=dict(cli.env))
    code, out, err = outcome(run, case.opts, ctx)
    assert (code, err) == (case.code, case.err), out
    if case.out is not None:
        assert out.rstrip("\n") == case.out
        return
    data = json.loads(out) if case.code == 0 else None
    if case.opts.fields:
        assert data["method"] == "POST" and json.loads(data["body"]) == {"name": "widget", "count": 3, "tags": [1]}
        assert data["headers"]["Content-Type"] == "application/json"
    elif case.opts.data:
        assert (data["method"], data["body"], data["query"]) == ("PUT", "raw body", {"a": ["1", "2"]})
        assert data["headers"]["X-Test"] == "yes"
    elif case.code == 0:
        assert [item["id"] for item in data] == list(range(1, ITEMS + 1))
    else:  # page 1 was collected and is written before the failing page's body
        collected, end = json.JSONDecoder().raw_decode(out)
        assert [item["id"] for item in collected] == list(range(1, PAGE + 1))
        assert json.loads(out[end:]) == {"error": "server_error", "message": "page 2 failed"}


def test_an_expired_token_is_refreshed_once_then_used(cli: Cli, server: DevServer, tmp_path: Path) -> None:
    from tests.helpers import expired_session

    expired_session(cli, server)
    ctx = Context(io=IOStreams.test(), env=dict(cli.env))
    assert outcome(run, CallOptions("/users/me"), ctx) == (0, ALICE + "\n", "")
    assert server.stats()["refreshes"] == 1
