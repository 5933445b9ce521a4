"""Tier one (as in gh), for every command: argv becomes these options. Each command's defaults,
every option set once (each to a value no other option has, so a swap shows), and the short
flags. The command modules' entry points are replaced by a recorder: nothing here touches the
network, a store or config.toml.

test_every_option_is_in_a_table reads the Typer app itself, so an option added to cli.py
without a row here fails.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from authcli.cli import app
from authcli.commands.call import CallOptions
from authcli.commands.dev_server import DevServerOptions
from authcli.commands.execute import ExecOptions
from authcli.commands.git_credential import GitCredentialOptions
from authcli.commands.login import LoginOptions
from authcli.commands.logout import LogoutOptions
from authcli.commands.profiles import ProfileNameOptions, ProfilesOptions
from authcli.commands.proxy import ProxyOptions
from authcli.commands.refresh import RefreshOptions
from authcli.commands.token import TokenOptions
from authcli.commands.whoami import WhoamiOptions

runner = CliRunner()

# (argv, module in authcli.commands, the function cli.py hands the options to, the options)
LOGIN = [
    (["login"], "login", "run", LoginOptions()),
    (["login", "-p", "work", "--api-url", "https://api.x", "--email", "me@x", "--password-stdin", "--storage", "file"],
     "login", "run", LoginOptions(profile="work", api_url="https://api.x", email="me@x", password_stdin=True,
                                  storage="file")),
    (["login", "--issuer", "https://idp.x", "--client-id", "cid", "--scope", "openid email", "--flow", "device",
      "--token-endpoint", "https://idp.x/token", "--revocation-endpoint", "https://idp.x/revoke",
      "--client-auth", "client_secret_post", "--client-secret-stdin", "--audience", "aud", "--resource", "https://r.x",
      "--device-authorization-endpoint", "https://idp.x/device", "--authorization-endpoint", "https://idp.x/authorize",
      "--redirect-port", "8765", "--no-browser", "--browser-timeout", "12.5", "--userinfo-endpoint",
      "https://idp.x/userinfo", "--dpop"],
     "login", "run", LoginOptions(issuer="https://idp.x", client_id="cid", scope="openid email", flow="device",
                                  token_endpoint="https://idp.x/token", revocation_endpoint="https://idp.x/revoke",
                                  client_auth="client_secret_post", client_secret_stdin=True, audience="aud",
                                  resource="https://r.x", device_authorization_endpoint="https://idp.x/device",
                                  authorization_endpoint="https://idp.x/authorize", redirect_port=8765, no_browser=True,
                                  browser_timeout=12.5, userinfo_endpoint="https://idp.x/userinfo", dpop=True)),
    (["login", "--profile", "fleet", "--storage", "redis", "--redis-url", "redis://r:6379/1", "--redis-namespace", "ns", "--join",
      "--replace", "--redis-password-stdin"],
     "login", "run", LoginOptions(profile="fleet", storage="redis", redis_url="redis://r:6379/1", redis_namespace="ns", join=True,
                                  replace=True, redis_password_stdin=True)),
    (["login", "--storage", "encrypted", "--key-file", "k.b64", "--new-key-file", "new.b64", "--key-command",
      "systemd-creds decrypt k -", "--passphrase"],
     "login", "run", LoginOptions(storage="encrypted", key_file="k.b64", new_key_file="new.b64",
                                  key_command="systemd-creds decrypt k -", passphrase=True)),
    (["login", "--client-key-file", "ci.pem", "--client-key-id", "kid-1", "--client-assertion-file", "/run/a.jwt",
      "--client-assertion-env", "ASSERTION", "--client-assertion-command", "mint --aud x"],
     "login", "run", LoginOptions(client_key_file="ci.pem", client_key_id="kid-1", client_assertion_file="/run/a.jwt",
                                  client_assertion_env="ASSERTION", client_assertion_command="mint --aud x")),
    (["login", "--flow", "token-exchange", "--subject-token-file", "/run/s", "--subject-token-env", "SUBJ",
      "--subject-token-command", "get-subject", "--subject-token-type", "urn:s", "--actor-token-file", "/run/a",
      "--actor-token-env", "ACT", "--actor-token-command", "get-actor", "--actor-token-type", "urn:a",
      "--requested-token-type", "urn:r"],
     "login", "run", LoginOptions(flow="token-exchange", subject_token_file="/run/s", subject_token_env="SUBJ",
                                  subject_token_command="get-subject", subject_token_type="urn:s",
                                  actor_token_file="/run/a", actor_token_env="ACT", actor_token_command="get-actor",
                                  actor_token_type="urn:a", requested_token_type="urn:r")),
]

LOGOUT = [
    (["logout"], "logout", "run", LogoutOptions(None, False)),
    (["logout", "-p", "staging"], "logout", "run", LogoutOptions("staging", False)),
    (["logout", "--profile", "staging", "--all"], "logout", "run", LogoutOptions("staging", True)),
]

WHOAMI = [
    (["whoami"], "whoami", "run", WhoamiOptions(None, False, False)),
    (["whoami", "-p", "ci"], "whoami", "run", WhoamiOptions("ci", False, False)),
    (["whoami", "--profile", "ci", "--json"], "whoami", "run", WhoamiOptions("ci", True, False)),
    (["whoami", "--verify"], "whoami", "run", WhoamiOptions(None, False, True)),
]

TOKEN = [
    (["token"], "token", "run", TokenOptions(None, 0.0, "token")),
    (["token", "-p", "ci"], "token", "run", TokenOptions("ci", 0.0, "token")),
    (["token", "--profile", "ci", "--min-ttl", "600", "--format", "exec-credential"],
     "token", "run", TokenOptions("ci", 600.0, "exec-credential")),
    (["token", "--format=curl-config", "--min-ttl=0.5"], "token", "run", TokenOptions(None, 0.5, "curl-config")),
    # Not Typer's to judge: run() refuses it with its own message (tier two).
    (["token", "--format", "yaml"], "token", "run", TokenOptions(None, 0.0, "yaml")),
]

REFRESH = [
    (["refresh"], "refresh", "run", RefreshOptions(None)),
    (["refresh", "-p", "a"], "refresh", "run", RefreshOptions("a")),
    (["refresh", "--profile", "b"], "refresh", "run", RefreshOptions("b")),
]

CALL = [
    (["call", "/users/me"], "call", "run", CallOptions("/users/me")),
    (["call", "DELETE", "/items/1"], "call", "run", CallOptions("DELETE", "/items/1")),
    (["call", "POST", "/items", "-p", "ci", "-H", "X-A: 1", "-H", "X-B: 2", "-q", "k=v", "-d", "@body.json",
      "-f", "a=1", "-f", "b:=[1]", "-i", "-o", "out.bin", "-v"],
     "call", "run", CallOptions("POST", "/items", profile="ci", headers=["X-A: 1", "X-B: 2"], query=["k=v"],
                                data="@body.json", fields=["a=1", "b:=[1]"], include=True, output="out.bin",
                                verbose=True)),
    (["call", "PUT", "/f", "--profile", "ci", "--header", "X-C: 3", "--query", "q=1", "--data", "@-", "--field", "c=3",
      "--include", "--output", "f.out", "--raw", "--no-fail", "--timeout", "5", "--retry", "2", "--retry-all",
      "--paginate", "--verbose", "--cacert", "ca.pem", "--chunked"],
     "call", "run", CallOptions("PUT", "/f", profile="ci", headers=["X-C: 3"], query=["q=1"], data="@-",
                                fields=["c=3"], include=True, output="f.out", raw=True, fail=False, timeout=5.0, retry=2,
                                retry_all=True, paginate=True, verbose=True, cacert="ca.pem", chunked=True)),
    (["call", "/x", "--no-fail", "--fail"], "call", "run", CallOptions("/x", fail=True)),  # the last one wins
]

GIT_CREDENTIAL = [
    (["git-credential"], "git_credential", "run", GitCredentialOptions()),
    (["git-credential", "get"], "git_credential", "run", GitCredentialOptions(action="get")),
    (["git-credential", "erase", "-p", "gl", "--username", "oauth2"],
     "git_credential", "run", GitCredentialOptions(action="erase", profile="gl", username="oauth2")),
    (["git-credential", "--configure", "https://git.x", "--profile", "gl", "--git-config", "repo/.git/config"],
     "git_credential", "run", GitCredentialOptions(configure="https://git.x", profile="gl",
                                                   git_config="repo/.git/config")),
]

PROXY = [
    (["proxy"], "proxy", "run", ProxyOptions()),
    (["proxy", "-p", "ci", "--port", "8700", "-q"], "proxy", "run", ProxyOptions("ci", port=8700, quiet=True)),
    (["proxy", "--profile", "ci", "--socket", "/run/api.sock", "--secret-file", "/run/api.secret", "--quiet",
      "--timeout", "9"],
     "proxy", "run", ProxyOptions("ci", socket="/run/api.sock", secret_file="/run/api.secret", quiet=True,
                                  timeout=9.0)),
    (["proxy", "--exit-with", "4242"], "proxy", "run", ProxyOptions(exit_with=4242)),  # hidden: exec's own use
]

EXEC = [
    (["exec", "--", "python", "job.py"], "execute", "run", ExecOptions(["python", "job.py"])),
    (["exec", "-p", "ci", "--url-env", "BASE", "--token-env", "KEY", "-v", "--", "prog"],
     "execute", "run", ExecOptions(["prog"], "ci", "BASE", "KEY", verbose=True)),
    (["exec", "--profile", "ci", "--token", "--min-ttl", "60", "--verbose", "--", "sh", "-c", "echo"],
     "execute", "run", ExecOptions(["sh", "-c", "echo"], "ci", token=True, min_ttl=60.0, verbose=True)),
    # Everything after the program is the program's, flags that look like authcli's included.
    (["exec", "prog", "--token", "-p", "x", "--debug"], "execute", "run",
     ExecOptions(["prog", "--token", "-p", "x", "--debug"])),
]

PROFILES = [
    (["profiles"], "profiles", "list_profiles", ProfilesOptions(False)),
    (["profiles", "--json"], "profiles", "list_profiles", ProfilesOptions(True)),
    (["profiles", "use", "staging"], "profiles", "use", ProfileNameOptions("staging")),
    (["profiles", "remove", "old"], "profiles", "remove", ProfileNameOptions("old")),
]

DEV_SERVER = [
    (["dev-server"], "dev_server", "run", DevServerOptions()),
    (["dev-server", "--port", "8080", "--access-ttl", "10", "--refresh-ttl", "100", "--clock-skew", "-30",
      "--refresh-delay", "0.5", "--no-expires-in", "--token-style", "snake", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
     "dev_server", "run", DevServerOptions(8080, 10.0, 100.0, -30.0, 0.5, True, "snake", "c.pem", "k.pem")),
]

CASES = LOGIN + LOGOUT + WHOAMI + TOKEN + REFRESH + CALL + GIT_CREDENTIAL + PROXY + EXEC + PROFILES + DEV_SERVER


@pytest.mark.parametrize(("argv", "module", "func", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_argv_becomes_options(monkeypatch: pytest.MonkeyPatch, argv: list[str], module: str, func: str,
                              expected: Any) -> None:
    seen: list[Any] = []
    mod = importlib.import_module(f"authcli.commands.{module}")
    monkeypatch.setattr(mod, func, lambda opts, ctx: seen.append(opts) or 0)
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert seen == [expected]


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["call"], 2, "Missing argument 'METHOD|PATH'"),
    (["call", "GET", "/a", "/b"], 2, "Got unexpected extra argument(s) (/b)"),
    (["call", "/x", "--retry", "1.5"], 2, "Invalid value for '--retry'"),
    (["exec"], 2, "Missing argument '-- COMMAND [ARGS]...'"),
    (["proxy", "--port", "http"], 2, "Invalid value for '--port'"),
    (["login", "--redirect-port", "x"], 2, "Invalid value for '--redirect-port'"),
    (["dev-server", "--access-ttl", "soon"], 2, "Invalid value for '--access-ttl'"),
    (["profiles", "use"], 2, "Missing argument 'NAME'"),
    (["profiles", "rename", "a"], 2, "No such command 'rename'"),
    (["refresh", "--all"], 2, "No such option: --all"),
    (["git-credential", "get", "store"], 2, "Got unexpected extra argument(s) (store)"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_what_typer_refuses_never_reaches_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], code: int, message: str) -> None:
    from authcli.cli import run_typer

    for name in ("login", "call", "execute", "proxy", "dev_server", "profiles", "refresh", "git_credential"):
        mod = importlib.import_module(f"authcli.commands.{name}")
        for func in ("run", "use", "remove", "list_profiles"):
            if hasattr(mod, func):
                monkeypatch.setattr(mod, func, lambda *a: pytest.fail(f"{argv} reached the command"))
    assert run_typer(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("authcli: ") and message in err, err


@pytest.mark.parametrize(("argv", "debug", "no_color"), [
    (["whoami"], False, False),
    (["--debug", "whoami"], True, False),
    (["--no-color", "whoami"], False, True),
    (["--no-color", "--debug", "whoami"], True, True),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_global_options_reach_the_context(monkeypatch: pytest.MonkeyPatch, argv: list[str], debug: bool,
                                          no_color: bool) -> None:
    import authcli.commands.whoami as whoami

    monkeypatch.delenv("NO_COLOR", raising=False)
    seen: list[tuple[bool, bool]] = []
    monkeypatch.setattr(whoami, "run", lambda opts, ctx: seen.append((ctx.debug, ctx.io.no_color)) or 0)
    assert runner.invoke(app, argv).exit_code == 0
    assert seen == [(debug, no_color)]


def _typer_commands() -> dict[str, Any]:
    """Every command path ("login", "profiles use", "profiles" for its own --json) -> click command."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        found[name] = command
        for sub, subcommand in getattr(command, "commands", {}).items():
            found[f"{name} {sub}"] = subcommand
    return found


def test_every_command_has_a_table() -> None:
    missing = [name for name in _typer_commands()
               if not any(argv[:len(name.split())] == name.split() for argv, *_ in CASES)]
    assert not missing, f"commands without a tier-one row: {missing}"


def test_every_option_is_in_a_table() -> None:
    """Every spelling of every option (long and short) is used by at least one row of its command."""
    missing = []
    for name, command in _typer_commands().items():
        rows = [argv for argv, *_ in CASES if argv[:len(name.split())] == name.split()]
        used = {arg.partition("=")[0] for argv in rows for arg in argv}
        for param in command.params:
            if isinstance(param, TyperOption):
                missing += [f"{name} {s}" for s in (*param.opts, *param.secondary_opts)
                            if s not in used and s not in ("-h", "--help")]
    assert not missing, f"options no tier-one row sets: {missing}"


# -- docker-credential-authcli: its own parser (one positional word, as Docker runs it) --------

@pytest.mark.parametrize(("argv", "action"), [
    (["get"], "get"), (["store"], "store"), (["erase"], "erase"), (["list"], "list"),
    (["version"], "version"),  # unknown actions are run()'s to refuse, with exit 2 (tier two)
])
def test_docker_credential_argv_becomes_the_action(monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                                   action: str) -> None:
    from authcli.commands import docker_credential

    seen: list[str] = []
    monkeypatch.setattr(docker_credential, "run", lambda act, ctx: seen.append(act) or 0)
    assert docker_credential.main(argv) == 0
    assert seen == [action]


@pytest.mark.parametrize("argv", [[], ["get", "extra"]], ids=["no action", "two words"])
def test_docker_credential_usage(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 argv: list[str]) -> None:
    from authcli.commands import docker_credential

    monkeypatch.setattr(docker_credential, "run", lambda act, ctx: pytest.fail("reached run"))
    assert docker_credential.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "authcli: usage: docker-credential-authcli get|store|erase|list (Docker runs it)\n"
