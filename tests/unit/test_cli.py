"""Tier one (as in gh): argv becomes these options. Command modules' run() is replaced by a
recorder, so nothing here touches the network or a store."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from typer.testing import CliRunner

from authcli.cli import app
from authcli.commands.call import CallOptions
from authcli.commands.login import LoginOptions
from authcli.commands.logout import LogoutOptions
from authcli.commands.token import TokenOptions
from authcli.commands.whoami import WhoamiOptions
from authcli.errors import UseFullPath
from authcli.main import COMMANDS, command_options, main, split_globals

runner = CliRunner()

CASES = [
    (["login"], "login", "run", LoginOptions()),
    (["login", "-p", "w", "--api-url", "https://x", "--email", "e@x", "--password-stdin", "--storage", "file"],
     "login", "run", LoginOptions("w", "https://x", "e@x", True, "file")),
    (["login", "--flow", "token-exchange", "--subject-token-command", "get-token --aud x", "--subject-token-type", "u:t",
      "--actor-token-env", "ACTOR", "--requested-token-type", "u:r", "--client-id", "c", "--client-key-file", "k.pem",
      "--client-key-id", "k1"],
     "login", "run", LoginOptions(flow="token-exchange", client_id="c", subject_token_command="get-token --aud x",
                                  subject_token_type="u:t", actor_token_env="ACTOR", requested_token_type="u:r",
                                  client_key_file="k.pem", client_key_id="k1")),
    (["login", "--client-assertion-file", "/t", "--client-assertion-env", "T", "--client-assertion-command", "c",
      "--subject-token-file", "/s", "--subject-token-env", "S", "--actor-token-file", "/a", "--actor-token-command", "a",
      "--actor-token-type", "u:a"],
     "login", "run", LoginOptions(client_assertion_file="/t", client_assertion_env="T", client_assertion_command="c",
                                  subject_token_file="/s", subject_token_env="S", actor_token_file="/a",
                                  actor_token_command="a", actor_token_type="u:a")),
    (["logout", "--all"], "logout", "run", LogoutOptions(None, True)),
    (["whoami", "--json", "--verify", "--profile", "p"], "whoami", "run", WhoamiOptions("p", True, True)),
    (["token", "--min-ttl", "600"], "token", "run", TokenOptions(None, 600.0)),
]


@pytest.mark.parametrize(("argv", "module", "func", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_argv_becomes_options(monkeypatch: pytest.MonkeyPatch, argv: list[str], module: str, func: str,
                              expected: Any) -> None:
    seen: list[Any] = []
    mod = importlib.import_module(f"authcli.commands.{module}")
    monkeypatch.setattr(mod, func, lambda opts, ctx: seen.append(opts) or 0)
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert seen == [expected]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["login", "--password", "x"],
         "authcli: No such option: --password (Possible options: --passphrase, --password-stdin, --redis-password-stdin); "
         "see 'authcli login --help'"),
        (["token", "--min-ttl", "soon"], "authcli: Invalid value for '--min-ttl'"),
        (["nosuch"], "authcli: No such command 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize("command", ["login", "logout", "whoami", "token", "refresh", "profiles", "dev-server"])
def test_every_help_ends_with_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"authcli {command.split()[0]}" in result.output.split("Examples:")[1]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("authcli ")


FAST_CASES = [
    (["token"], TokenOptions(None, 0.0)),
    (["token", "-p", "ci"], TokenOptions("ci", 0.0)),
    (["token", "--profile", "ci", "--min-ttl", "90"], TokenOptions("ci", 90.0)),
    (["token", "--profile=ci", "--min-ttl=1.5"], TokenOptions("ci", 1.5)),
    (["token", "--min-ttl", "soon"], None),      # Typer words the error
    (["token", "--help"], None),
    (["token", "-h"], None),
    (["token", "--profile"], None),
    (["token", "-p", "--min-ttl"], None),
    (["token", "-p", "a", "-p", "b"], None),
    (["token", "extra"], None),
    (["--debug", "token"], None),
    (["whoami"], WhoamiOptions(None, False, False)),
    (["whoami", "--json", "-p", "ci"], WhoamiOptions("ci", True, False)),
    (["whoami", "--verify", "--json", "--profile=x"], WhoamiOptions("x", True, True)),
    (["whoami", "--json=1"], None),
    (["whoami", "--json", "--json"], None),
    (["whoami", "--no-color"], None),
    (["--no-color", "whoami"], None),
    (["call", "/users/me"], CallOptions("/users/me")),
    (["call", "POST", "/items", "-f", "a=1", "-f", "b:=[1]", "-H", "X-A: 1", "--no-fail", "--timeout=5", "--retry", "2"],
     CallOptions("POST", "/items", fields=["a=1", "b:=[1]"], headers=["X-A: 1"], fail=False, timeout=5.0, retry=2)),
    (["call", "-d", "@-", "/upload", "--chunked", "-o", "out.bin", "-i", "-v", "-q", "k=v", "--paginate"],
     CallOptions("/upload", data="@-", chunked=True, output="out.bin", include=True, verbose=True, query=["k=v"],
                 paginate=True)),
    (["call", "GET", "/a", "/b"], None),       # one argument too many
    (["call"], None),                          # PATH is required: Typer says so
    (["call", "/x", "--retry", "1.5"], None),  # not an int: Typer words it
    (["call", "/x", "-iv"], None),             # clustered short flags: Typer's business
    (["call", "/x", "--", "-y"], None),
    (["call", "/x", "--fail", "--no-fail"], None),
    ([], None),
]


@pytest.mark.parametrize(("argv", "expected"), FAST_CASES, ids=[" ".join(c[0]) or "(none)" for c in FAST_CASES])
def test_the_fast_path_parses_like_typer(monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: Any) -> None:
    """The Typer-free parse of the loop commands must agree with Typer wherever it answers."""
    if expected is None:
        with pytest.raises(UseFullPath):
            command_options(argv)
        return
    fast = command_options(argv)
    mod = COMMANDS[fast[0]]()
    assert mod.options(**fast[1]) == expected
    seen: list[Any] = []
    monkeypatch.setattr(mod, "run", lambda opts, ctx: seen.append(opts) or 0)
    assert runner.invoke(app, argv).exit_code == 0
    assert seen == [expected]


def test_the_fast_path_table_is_generated_from_the_typer_app() -> None:
    """One definition per option: fastspec.py must be what scripts/gen_fastpath.py makes of cli.py."""
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    generator = runpy.run_path(str(root / "scripts" / "gen_fastpath.py"))
    committed = (root / "src" / "authcli" / "fastspec.py").read_text()
    assert committed == generator["render"](), "stale: run .venv/bin/python scripts/gen_fastpath.py"


def test_main_runs_every_command_it_parses() -> None:
    """main's table of command modules is fastspec's commands: one cannot grow without the other."""
    from authcli.fastspec import OPTIONS

    assert set(COMMANDS) == set(OPTIONS)
    for name, module in COMMANDS.items():
        assert module().__name__ == f"authcli.commands.{name.replace('-', '_')}"


@pytest.mark.parametrize(("argv", "flags", "rest"), [
    (["token"], {}, ["token"]),
    (["--debug", "token"], {"debug": True}, ["token"]),
    (["--no-color", "--debug", "whoami", "--json"], {"no_color": True, "debug": True}, ["whoami", "--json"]),
    (["exec", "--", "true", "--debug"], {}, ["exec", "--", "true", "--debug"]),  # the program's argument
    (["call", "/x", "-H", "--debug"], {}, ["call", "/x", "-H", "--debug"]),    # a header value
    (["--version"], {}, ["--version"]),  # not a flag stage 1 knows: Typer's
    (["--debug"], {"debug": True}, []),
])
def test_global_flags_end_at_the_command_word(argv: list[str], flags: dict[str, bool], rest: list[str]) -> None:
    assert split_globals(argv) == (flags, rest)


def test_global_flags_keep_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """`authcli --debug token` is parsed without Typer too, and the flag reaches the context."""
    import authcli.main

    def no_typer(args: list[str]) -> int:
        raise AssertionError(f"Typer parsed {args}")

    seen: list[Any] = []
    module = COMMANDS["whoami"]()
    monkeypatch.setattr(authcli.main, "_typer", no_typer)
    monkeypatch.setattr(module, "run", lambda opts, ctx: seen.append((opts, ctx.debug)) or 0)
    assert main(["--debug", "whoami", "--json"]) == 0
    assert seen == [(module.options(profile=None, json_=True, verify=False), True)]
