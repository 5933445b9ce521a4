"""Tier two (as in gh) for `authcli exec`: run(opts, ctx) with IOStreams.test() and a dict store ->
the program and environment authcli would become, stdout, stderr, exit code. The two OS
boundaries are stubs where a test must not cross them: sideproxy.become (exec replaces this
process) and sideproxy.start (a proxy process); a program that cannot be found is the real
become's answer, since nothing is replaced then."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authcli import sideproxy
from authcli.commands.execute import ExecOptions, run
from authcli.config import Profile
from authcli.tokens import TokenRecord
from tests.fakes import API, make_ctx, outcome, profile, record

ENV = {"KEEP": "1", "AUTHCLI_STORAGE_KEY": "secret-key", "AUTHCLI_CLIENT_SECRET": "secret-client"}
PROXY_URL, PROXY_SECRET = "http://127.0.0.1:8700", "local-secret"


@dataclass
class Case:
    opts: ExecOptions
    code: int
    err: str = ""
    became: tuple[list[str], dict[str, str]] | None = None  # (command, the variables authcli sets)
    profiles: list[Profile] = field(default_factory=lambda: [profile()])
    records: dict[str, TokenRecord] = field(default_factory=lambda: {"default": record()})
    started: Any = None  # what the stubbed sideproxy.start answers (None: a proxy that serves)


CASES = [
    pytest.param(Case(ExecOptions(["job", "--x"]), 0,
                      became=(["job", "--x"], {"AUTHCLI_API_URL": PROXY_URL, "AUTHCLI_API_TOKEN": PROXY_SECRET})),
                 id="through a proxy: its URL and local secret"),
    pytest.param(Case(ExecOptions(["job"], url_env="BASE", token_env="KEY"), 0,
                      became=(["job"], {"BASE": PROXY_URL, "KEY": PROXY_SECRET})),
                 id="through a proxy, variables named"),
    pytest.param(Case(ExecOptions(["job"]), 6, started=6), id="a proxy that did not start: its exit code"),
    pytest.param(Case(ExecOptions(["job"], token=True), 0,
                      became=(["job"], {"AUTHCLI_API_URL": API, "AUTHCLI_API_TOKEN": "access-1"})),
                 id="--token: the API's URL and a real token"),
    pytest.param(Case(ExecOptions(["job"], "ci", "U", "T", token=True, min_ttl=60), 0,
                      became=(["job"], {"U": "https://ci.example.com", "T": "ci-token"}),
                      profiles=[profile(), profile("ci", "https://ci.example.com")],
                      records={"ci": record("ci-token", origin="https://ci.example.com:443")}),
                 id="--token, a named profile"),
    # errors
    pytest.param(Case(ExecOptions([]), 2, "authcli: name the program to run: authcli exec -- COMMAND [ARGS...]\n"),
                 id="no program"),
    pytest.param(Case(ExecOptions(["job"], url_env="1X"), 2,
                      "authcli: --url-env '1X' is not a variable name (letters, digits and _)\n"),
                 id="a bad variable name"),
    pytest.param(Case(ExecOptions(["job"], token_env="A-B"), 2,
                      "authcli: --token-env 'A-B' is not a variable name (letters, digits and _)\n"),
                 id="a bad token variable name"),
    pytest.param(Case(ExecOptions(["job"], url_env="X", token_env="X"), 2,
                      "authcli: --url-env and --token-env must name different variables\n"),
                 id="one variable for both"),
    pytest.param(Case(ExecOptions(["job"], min_ttl=60), 2,
                      "authcli: --min-ttl goes with --token (through the proxy every request gets a fresh token)\n"),
                 id="min-ttl without token"),
    pytest.param(Case(ExecOptions(["job"], token=True, min_ttl=float("nan")), 2,
                      "authcli: --min-ttl must be a finite number of seconds, zero or more\n"),
                 id="min-ttl not a number"),
    pytest.param(Case(ExecOptions(["job"], token=True), 4, "authcli: not logged in; run authcli login\n", records={}),
                 id="--token, not logged in"),
    pytest.param(Case(ExecOptions(["job"], token=True), 2,
                      "authcli: profile 'default' holds DPoP-bound tokens, useless to a program without the key: "
                      "leave out --token, and the program goes through a proxy that signs for it\n",
                      profiles=[profile(dpop=True)]),
                 id="--token, dpop"),
]


@pytest.mark.parametrize("case", CASES)
def test_exec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    became: list[tuple[list[str], Mapping[str, str]]] = []
    started: list[tuple[str | None, bool]] = []

    def start(ctx: Any, name: str | None, verbose: bool) -> Any:
        started.append((name, verbose))
        return case.started if case.started is not None else sideproxy.Beside(PROXY_URL, PROXY_SECRET, None)  # type: ignore[arg-type]

    def become(command: list[str], env: Mapping[str, str], beside: Any = None) -> int:
        became.append((command, env))
        return 0

    monkeypatch.setattr(sideproxy, "start", start)
    monkeypatch.setattr(sideproxy, "become", become)
    ctx = make_ctx(tmp_path / "home", case.profiles, records=case.records, env=ENV)
    assert outcome(run, case.opts, ctx) == (case.code, "", case.err)
    if case.became is None:
        assert became == []
        return
    ((command, env),) = became
    expected_command, variables = case.became
    assert command == expected_command
    assert env == {"AUTHCLI_CONFIG_DIR": ctx.env["AUTHCLI_CONFIG_DIR"], "KEEP": "1", **variables}  # no secrets
    assert started == ([] if case.opts.token else [(case.opts.profile, case.opts.verbose)])


@pytest.mark.parametrize(("program", "code", "message"), [
    ("/nonexistent/job", 127, "authcli: /nonexistent/job: command not found\n"),
    ("{tmp}/not-executable", 126, "authcli: cannot run {tmp}/not-executable: Permission denied\n"),
], ids=["not found", "not executable"])
def test_exec_token_a_program_that_cannot_run(tmp_path: Path, program: str, code: int, message: str) -> None:
    """The real become: when the program cannot be run, nothing was replaced and authcli says why."""
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    ctx = make_ctx(tmp_path / "home", [profile()], records={"default": record()})
    opts = ExecOptions([program.format(tmp=tmp_path)], token=True)
    assert outcome(run, opts, ctx) == (code, "", message.format(tmp=tmp_path))
