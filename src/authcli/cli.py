"""The Typer app: options, help texts and examples. Commands only wire.

Command modules are imported inside each command, so starting authcli pays only for the
command that runs. Errors are turned into ``authcli: <message>`` by main.py.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, Optional

import typer
from typer import _click as click
from typer.core import TyperGroup

from . import __version__
from .context import Context
from .errors import ExitCode, Interrupted
from .iostreams import IOStreams


class _Group(TyperGroup):
    def invoke(self, ctx: click.Context) -> Any:
        # Typer turns Ctrl-C into a silent exit 130; main.py prints the one line instead.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None


app = typer.Typer(
    name="authcli",
    cls=_Group,
    help="Keep API sessions alive for scripts: tokens in the OS keyring, refresh before expiry, "
    "exactly one refresh across parallel processes.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
profiles_app = typer.Typer(
    help="List, choose and remove profiles.",
    rich_markup_mode=None,
    invoke_without_command=True,
    epilog="Examples:\n\n\b\n  authcli profiles\n  authcli profiles use staging\n  authcli profiles --json | jq -r '.[].name'",
)
app.add_typer(profiles_app, name="profiles")

def _complete_profiles(incomplete: str) -> list[str]:
    """Profile names from config.toml alone: completing never touches the keyring or the network."""
    from .config import Config, Paths
    from .errors import AuthcliError

    try:
        names = Config.load(Paths.from_env(os.environ).config_file).profiles
    except AuthcliError:
        return []
    return [name for name in sorted(names) if name.startswith(incomplete)]


ProfileOpt = Annotated[
    Optional[str],
    typer.Option("--profile", "-p", metavar="NAME", help="Profile to use [env: AUTHCLI_PROFILE; default: the current profile].",
                 show_default=False, autocompletion=_complete_profiles),
]
COMPLETE_VAR = "_AUTHCLI_COMPLETE"
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (stable keys, see docs/storage.md).")]


def _ctx(tctx: typer.Context) -> Context:
    return tctx.find_root().obj  # type: ignore[no-any-return]


def _examples(*lines: str) -> str:
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"authcli {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    tctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal [env: NO_COLOR].")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    tctx.obj = Context(io=IOStreams.system(no_color=no_color), debug=debug)


@app.command(epilog=_examples(
    "authcli login --api-url https://api.example.com --email me@example.com",
    "printf %s \"$PASSWORD\" | authcli login --email ci@example.com --password-stdin",
    "authcli login --profile staging --api-url https://staging.example.com --storage file",
    "AUTHCLI_CLIENT_SECRET=... authcli login --issuer https://auth.example.com --client-id ci --flow client-credentials",
    "authcli login --storage redis --redis-url rediss://redis.internal:6380/0 --api-url https://api.example.com --join",
    "authcli login --issuer https://auth.example.com --flow token-exchange --subject-token-file /var/run/secrets/tokens/api --api-url https://api.example.com",
    "authcli login --issuer https://auth.example.com --client-id ci --flow client-credentials --client-key-file ci-key.pem",
    "AUTHCLI_STORAGE_KEY=\"$KEY\" authcli login --storage encrypted --api-url https://api.example.com --email ci@example.com --password-stdin",
))
def login(
    tctx: typer.Context,
    profile: ProfileOpt = None,
    api_url: Annotated[Optional[str], typer.Option("--api-url", metavar="URL", help="API base URL (https, or http on loopback) [env: AUTHCLI_API_URL].", show_default=False)] = None,
    email: Annotated[Optional[str], typer.Option("--email", metavar="EMAIL", help="Account email; prompted for on a terminal.", show_default=False)] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    storage: Annotated[Optional[str], typer.Option("--storage", metavar="keyring|file|redis|encrypted", help="keyring (default), file, redis (one session shared by many machines), or encrypted (a file encrypted with a key from AUTHCLI_STORAGE_KEY, --key-file, --key-command or a passphrase) [env: AUTHCLI_STORAGE].", show_default=False)] = None,
    issuer: Annotated[Optional[str], typer.Option("--issuer", metavar="URL", help="OAuth: the authorization server, for discovery.", show_default=False)] = None,
    client_id: Annotated[Optional[str], typer.Option("--client-id", metavar="ID", help="OAuth: client ID.", show_default=False)] = None,
    scope: Annotated[Optional[str], typer.Option("--scope", metavar="SCOPES", help='OAuth: scopes, e.g. "openid offline_access".', show_default=False)] = None,
    flow: Annotated[Optional[str], typer.Option("--flow", metavar="GRANT", help="OAuth grant: browser (code + PKCE), device, password, client-credentials or token-exchange (RFC 8693). Default: password with --email or --password-stdin, else browser on a desktop, device over SSH or without a display.", show_default=False)] = None,
    token_endpoint: Annotated[Optional[str], typer.Option("--token-endpoint", metavar="URL", help="OAuth: token endpoint, for servers without discovery.", show_default=False)] = None,
    revocation_endpoint: Annotated[Optional[str], typer.Option("--revocation-endpoint", metavar="URL", help="OAuth: revocation endpoint (RFC 7009).", show_default=False)] = None,
    client_auth: Annotated[Optional[str], typer.Option("--client-auth", metavar="METHOD", help="OAuth: none, client_secret_basic, client_secret_post, private_key_jwt (--client-key-file) or client_assertion (--client-assertion-*).", show_default=False)] = None,
    client_secret_stdin: Annotated[bool, typer.Option("--client-secret-stdin", help="OAuth: read the client secret from stdin [env: AUTHCLI_CLIENT_SECRET].")] = False,
    audience: Annotated[Optional[str], typer.Option("--audience", metavar="AUDIENCE", help="OAuth: audience parameter.", show_default=False)] = None,
    resource: Annotated[Optional[str], typer.Option("--resource", metavar="URI", help="OAuth: resource indicator (RFC 8707).", show_default=False)] = None,
    device_endpoint: Annotated[Optional[str], typer.Option("--device-authorization-endpoint", metavar="URL", help="OAuth: device authorization endpoint (RFC 8628), for servers without discovery.", show_default=False)] = None,
    authorization_endpoint: Annotated[Optional[str], typer.Option("--authorization-endpoint", metavar="URL", help="OAuth: authorization endpoint, for --flow browser without discovery.", show_default=False)] = None,
    redirect_port: Annotated[Optional[int], typer.Option("--redirect-port", metavar="PORT", help="OAuth --flow browser: fixed loopback port (default: a free one).", show_default=False)] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="OAuth --flow browser: only print the URL.")] = False,
    browser_timeout: Annotated[float, typer.Option("--browser-timeout", metavar="SECONDS", help="OAuth --flow browser: how long to wait for the redirect.")] = 300.0,
    userinfo_endpoint: Annotated[Optional[str], typer.Option("--userinfo-endpoint", metavar="URL", help="OpenID Connect: userinfo endpoint for whoami --verify, for servers without discovery.", show_default=False)] = None,
    redis_url: Annotated[Optional[str], typer.Option("--redis-url", metavar="URL", help="--storage redis: redis://HOST:PORT/DB or rediss://, no password [env: AUTHCLI_REDIS_URL].", show_default=False)] = None,
    redis_namespace: Annotated[Optional[str], typer.Option("--redis-namespace", metavar="NAME", help="--storage redis: key namespace [default: the API's origin].", show_default=False)] = None,
    join: Annotated[bool, typer.Option("--join", help="--storage redis: join the session another machine logged in to, without signing in.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="--storage redis: sign in even where another account's live session is shared, replacing it for every machine.")] = False,
    redis_password_stdin: Annotated[bool, typer.Option("--redis-password-stdin", help="--storage redis: read the Redis password from stdin and keep it in this machine's OS keyring [env: AUTHCLI_REDIS_PASSWORD].")] = False,
    dpop: Annotated[bool, typer.Option("--dpop", help="OAuth: bind the tokens to a key pair kept with them (DPoP, RFC 9449), so copied tokens are useless.")] = False,
    key_file: Annotated[Optional[str], typer.Option("--key-file", metavar="PATH", help="--storage encrypted: the key is in PATH (32 random bytes, base64; a file of yours, mode 0600).", show_default=False)] = None,
    new_key_file: Annotated[Optional[str], typer.Option("--new-key-file", metavar="PATH", help="--storage encrypted: write a fresh key to PATH (created 0600) and use it.", show_default=False)] = None,
    key_command: Annotated[Optional[str], typer.Option("--key-command", metavar="CMD", help="--storage encrypted: run CMD (split into words, no shell) for the key on its stdout, e.g. 'systemd-creds decrypt /etc/authcli/key.cred -'.", show_default=False)] = None,
    passphrase: Annotated[bool, typer.Option("--passphrase", help="--storage encrypted: protect the key with a passphrase typed on a terminal, cached in the kernel keyring [default on a terminal without AUTHCLI_STORAGE_KEY].")] = False,
    client_key_file: Annotated[Optional[str], typer.Option("--client-key-file", metavar="PEM", help="OAuth private_key_jwt (RFC 7523): sign a 60-second client assertion with this private key (RSA: RS256, EC P-256: ES256) for every token request; read from the file each time.", show_default=False)] = None,
    client_key_id: Annotated[Optional[str], typer.Option("--client-key-id", metavar="KID", help="With --client-key-file: the key ID (kid) the provider knows the key by.", show_default=False)] = None,
    client_assertion_file: Annotated[Optional[str], typer.Option("--client-assertion-file", metavar="PATH", help="OAuth: authenticate the client with a JWT issued elsewhere (a Kubernetes or CI token), read from PATH on every token request.", show_default=False)] = None,
    client_assertion_env: Annotated[Optional[str], typer.Option("--client-assertion-env", metavar="NAME", help="OAuth: the client assertion is in environment variable NAME (read on every token request).", show_default=False)] = None,
    client_assertion_command: Annotated[Optional[str], typer.Option("--client-assertion-command", metavar="CMD", help="OAuth: run CMD (split into words, no shell) for the client assertion on its stdout, on every token request.", show_default=False)] = None,
    subject_token_file: Annotated[Optional[str], typer.Option("--subject-token-file", metavar="PATH", help="--flow token-exchange (RFC 8693): the token to exchange is in PATH, read again at every renewal (a projected service-account token).", show_default=False)] = None,
    subject_token_env: Annotated[Optional[str], typer.Option("--subject-token-env", metavar="NAME", help="--flow token-exchange: the token to exchange is in environment variable NAME.", show_default=False)] = None,
    subject_token_command: Annotated[Optional[str], typer.Option("--subject-token-command", metavar="CMD", help="--flow token-exchange: run CMD (split into words, no shell) for the token to exchange, at every renewal.", show_default=False)] = None,
    subject_token_type: Annotated[Optional[str], typer.Option("--subject-token-type", metavar="URN", help="--flow token-exchange: the subject token's type [default: urn:ietf:params:oauth:token-type:jwt].", show_default=False)] = None,
    actor_token_file: Annotated[Optional[str], typer.Option("--actor-token-file", metavar="PATH", help="--flow token-exchange: an actor token (delegation) in PATH.", show_default=False)] = None,
    actor_token_env: Annotated[Optional[str], typer.Option("--actor-token-env", metavar="NAME", help="--flow token-exchange: the actor token is in environment variable NAME.", show_default=False)] = None,
    actor_token_command: Annotated[Optional[str], typer.Option("--actor-token-command", metavar="CMD", help="--flow token-exchange: run CMD for the actor token.", show_default=False)] = None,
    actor_token_type: Annotated[Optional[str], typer.Option("--actor-token-type", metavar="URN", help="--flow token-exchange: the actor token's type [default: urn:ietf:params:oauth:token-type:jwt].", show_default=False)] = None,
    requested_token_type: Annotated[Optional[str], typer.Option("--requested-token-type", metavar="URN", help="--flow token-exchange: the type of token to ask for [default: the server's choice].", show_default=False)] = None,
) -> int:
    """Sign in and keep the tokens in the OS keyring."""
    from .commands import login as cmd

    opts = cmd.LoginOptions(
        profile=profile, api_url=api_url, email=email, password_stdin=password_stdin, storage=storage, issuer=issuer,
        client_id=client_id, scope=scope, flow=flow, token_endpoint=token_endpoint,
        revocation_endpoint=revocation_endpoint, client_auth=client_auth, client_secret_stdin=client_secret_stdin,
        audience=audience, resource=resource, device_authorization_endpoint=device_endpoint,
        authorization_endpoint=authorization_endpoint, redirect_port=redirect_port, no_browser=no_browser,
        browser_timeout=browser_timeout, userinfo_endpoint=userinfo_endpoint, redis_url=redis_url,
        redis_namespace=redis_namespace, join=join, redis_password_stdin=redis_password_stdin, dpop=dpop,
        replace=replace, key_file=key_file, new_key_file=new_key_file, key_command=key_command,
        passphrase=passphrase, client_key_file=client_key_file, client_key_id=client_key_id,
        client_assertion_file=client_assertion_file, client_assertion_env=client_assertion_env,
        client_assertion_command=client_assertion_command, subject_token_file=subject_token_file,
        subject_token_env=subject_token_env, subject_token_command=subject_token_command,
        subject_token_type=subject_token_type, actor_token_file=actor_token_file, actor_token_env=actor_token_env,
        actor_token_command=actor_token_command, actor_token_type=actor_token_type,
        requested_token_type=requested_token_type,
    )
    return cmd.run(opts, _ctx(tctx))


@app.command(epilog=_examples("authcli logout", "authcli logout --all"))
def logout(
    tctx: typer.Context,
    profile: ProfileOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Log out of every profile.")] = False,
) -> int:
    """Revoke the session at the server (best effort) and delete the stored tokens."""
    from .commands import logout as cmd

    return cmd.run(cmd.LogoutOptions(profile=profile, all=all_), _ctx(tctx))


@app.command(epilog=_examples("authcli whoami", "authcli whoami --json | jq .expires_in", "authcli whoami --verify"))
def whoami(
    tctx: typer.Context,
    profile: ProfileOpt = None,
    json_: JsonOpt = False,
    verify: Annotated[bool, typer.Option("--verify", help="Refresh if needed and ask who you are: the provider's userinfo endpoint (OpenID Connect), else the API's me_path.")] = False,
) -> int:
    """Show who you are and how long the session lasts (local state only unless --verify)."""
    from .commands import whoami as cmd

    return cmd.run(cmd.options(profile=profile, json_=json_, verify=verify), _ctx(tctx))


@app.command(epilog=_examples(
    "authcli token --format curl-config | curl -K - https://api.example.com/users/me   # the token stays off curl's argv",
    "authcli token --min-ttl 600   # valid for at least ten more minutes",
    "authcli token --format json | jq -r .expires_at",
    "authcli token --format exec-credential   # a kubectl exec plugin",
))
def token(
    tctx: typer.Context,
    profile: ProfileOpt = None,
    min_ttl: Annotated[float, typer.Option("--min-ttl", help="Seconds the token must stay valid.", metavar="SECONDS")] = 0.0,
    format_: Annotated[str, typer.Option("--format", metavar="token|json|exec-credential|curl-config", help="The bare token (default), {access_token, token_type, expires_at} as JSON, a Kubernetes client.authentication.k8s.io/v1 ExecCredential, or a curl config for `curl -K -` (the token stays off curl's command line).")] = "token",
) -> int:
    """Print a valid access token (refreshed if needed) and nothing else."""
    from .commands import token as cmd

    return cmd.run(cmd.options(profile=profile, min_ttl=min_ttl, format_=format_), _ctx(tctx))


@app.command("git-credential", epilog=_examples(
    "authcli git-credential --configure https://git.example.com",
    "authcli git-credential --configure https://gitlab.example.com --username oauth2 -p gitlab",
    "printf 'protocol=https\\nhost=git.example.com\\n\\n' | authcli git-credential get",
))
def git_credential(
    tctx: typer.Context,
    action: Annotated[Optional[str], typer.Argument(metavar="get|store|erase", help="What git asks (git passes it).", show_default=False)] = None,
    profile: ProfileOpt = None,
    username: Annotated[Optional[str], typer.Option("--username", metavar="NAME", help="The git user name to answer as, and the only one to answer for (oauth2, x-access-token...) [default: the profile's git_username, else the session's email, user name or subject].", show_default=False)] = None,
    configure: Annotated[Optional[str], typer.Option("--configure", metavar="URL", help="Set git up so that only authcli answers for URL: an empty credential.URL.helper (dropping general helpers such as store) followed by this helper.", show_default=False)] = None,
    git_config: Annotated[Optional[str], typer.Option("--git-config", metavar="FILE", help="With --configure: the git config file to write [default: your global git config].", show_default=False)] = None,
) -> int:
    """git credential helper: a fresh access token for the profile whose API origin git asks about."""
    from .commands import git_credential as cmd

    return cmd.run(cmd.options(action=action, profile=profile, username=username, configure=configure,
                               git_config=git_config), _ctx(tctx))


@app.command(epilog=_examples(
    "authcli proxy --port 8700   # prints the URL, then the local secret",
    "authcli proxy --socket ~/.cache/api.sock --secret-file ~/.cache/api.secret --quiet",
    "curl -H \"Authorization: Bearer $SECRET\" http://127.0.0.1:8700/users/me",
))
def proxy(
    tctx: typer.Context,
    profile: ProfileOpt = None,
    port: Annotated[Optional[int], typer.Option("--port", metavar="N", help="Port on 127.0.0.1 [default: a free one].", show_default=False)] = None,
    socket: Annotated[Optional[str], typer.Option("--socket", metavar="PATH", help="Serve on a Unix socket created 0600 instead.", show_default=False)] = None,
    secret_file: Annotated[Optional[str], typer.Option("--secret-file", metavar="FILE", help="Write the local secret to FILE (0600, removed at exit) instead of stdout.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per request on stderr.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Connect and idle-read timeout towards the API.")] = 300.0,
    exit_with: Annotated[Optional[int], typer.Option("--exit-with", metavar="PID", hidden=True, help="authcli exec's own use: tell the URL and secret on stdout, ignore the job's signals, and stop once process PID has gone.", show_default=False)] = None,
) -> int:
    """Serve the profile's API on loopback; clients send the local secret, the proxy attaches the token."""
    from .commands import proxy as cmd

    return cmd.run(cmd.ProxyOptions(profile=profile, port=port, socket=socket, secret_file=secret_file, quiet=quiet,
                                     timeout=timeout, exit_with=exit_with), _ctx(tctx))


@app.command("exec", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
             epilog=_examples(
    "authcli exec -- python job.py   # AUTHCLI_API_URL and AUTHCLI_API_TOKEN point at a proxy",
    "authcli exec --url-env OPENAI_BASE_URL --token-env OPENAI_API_KEY -- python agent.py",
    "authcli exec --token --min-ttl 600 -- ./short-script.sh   # a real token, goes stale",
))
def exec_(
    tctx: typer.Context,
    command: Annotated[list[str], typer.Argument(metavar="-- COMMAND [ARGS]...", help="The program to run, and its arguments.", show_default=False)],
    profile: ProfileOpt = None,
    url_env: Annotated[str, typer.Option("--url-env", metavar="NAME", help="Variable that gets the URL.")] = "AUTHCLI_API_URL",
    token_env: Annotated[str, typer.Option("--token-env", metavar="NAME", help="Variable that gets the local secret (or with --token, the token).")] = "AUTHCLI_API_TOKEN",
    token: Annotated[bool, typer.Option("--token", help="Export a real access token and the API's URL instead of a proxy's (goes stale in long runs).")] = False,
    min_ttl: Annotated[float, typer.Option("--min-ttl", metavar="SECONDS", help="With --token: seconds the token must stay valid.")] = 0.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="A line per proxied request on stderr.")] = False,
) -> int:
    """Run COMMAND with the profile's API behind a proxy for its lifetime; exit with its status."""
    from .commands import execute as cmd

    return cmd.run(cmd.ExecOptions(command=command, profile=profile, url_env=url_env, token_env=token_env,
                                    token=token, min_ttl=min_ttl, verbose=verbose), _ctx(tctx))


@app.command(epilog=_examples("authcli refresh", "authcli refresh --profile staging"))
def refresh(tctx: typer.Context, profile: ProfileOpt = None) -> int:
    """Refresh the session now (one refresh even when many ask at once)."""
    from .commands import refresh as cmd

    return cmd.run(cmd.RefreshOptions(profile=profile), _ctx(tctx))


@app.command(epilog=_examples(
    "authcli call /users/me | jq -r .email",
    "authcli call POST /items -f name=widget -f count=3 -f tags:='[\"a\",\"b\"]'",
    "authcli call PUT /files/report.pdf --data @report.pdf -H 'Content-Type: application/pdf'",
    "authcli call /items --paginate | jq length",
    "authcli call /export -o export.csv",
))
def call(
    tctx: typer.Context,
    first: Annotated[str, typer.Argument(metavar="METHOD|PATH", help="HTTP method (default GET, or POST with a body), or the path when no method is given.", show_default=False)],
    second: Annotated[Optional[str], typer.Argument(metavar="PATH", help="Path relative to the API (/users/me, users/me, /items?limit=5), or a URL on the API's own origin.", show_default=False)] = None,
    profile: ProfileOpt = None,
    header: Annotated[Optional[list[str]], typer.Option("--header", "-H", metavar="'NAME: VALUE'", help="Add a request header (repeatable).", show_default=False)] = None,
    query: Annotated[Optional[list[str]], typer.Option("--query", "-q", metavar="KEY=VALUE", help="Add a query parameter (repeatable).", show_default=False)] = None,
    data: Annotated[Optional[str], typer.Option("--data", "-d", metavar="TEXT|@FILE|@-", help="Raw request body: text, a file, or stdin.", show_default=False)] = None,
    field_: Annotated[Optional[list[str]], typer.Option("--field", "-f", metavar="KEY=VALUE", help="JSON body field (repeatable): typed values, key=@FILE, key:=JSON.", show_default=False)] = None,
    include: Annotated[bool, typer.Option("--include", "-i", help="Print the status line and response headers first.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FILE", help="Write the body to FILE (atomically) instead of stdout.", show_default=False)] = None,
    raw: Annotated[bool, typer.Option("--raw", help="No pretty-printing or colour, even on a terminal.")] = False,
    fail: Annotated[bool, typer.Option("--fail/--no-fail", help="Exit 1 on HTTP status >= 400.")] = True,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Deadline for the answer's headers; then the idle timeout while the body streams.")] = 30.0,
    retry: Annotated[int, typer.Option("--retry", metavar="N", help="Retry connection errors, 429, 502, 503, 504 (idempotent methods).")] = 0,
    retry_all: Annotated[bool, typer.Option("--retry-all", help="Let --retry retry non-idempotent methods too.")] = False,
    paginate: Annotated[bool, typer.Option("--paginate", help="Follow Link rel=\"next\"; JSON arrays become one array.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Request and response headers on stderr (token masked).")] = False,
    cacert: Annotated[Optional[str], typer.Option("--cacert", metavar="FILE", help="CA bundle for this call.", show_default=False)] = None,
    chunked: Annotated[bool, typer.Option("--chunked", help="With --data @-: stream stdin as it comes (chunked, no Content-Length, cannot be replayed).")] = False,
) -> int:
    """Send an authenticated request to the profile's API; the body goes to stdout."""
    from .commands import call as cmd

    opts = cmd.options(
        first=first, second=second, profile=profile, header=header, query=query, data=data, field_=field_,
        include=include, output=output, raw=raw, fail=fail, timeout=timeout, retry=retry, retry_all=retry_all,
        paginate=paginate, verbose=verbose, cacert=cacert, chunked=chunked,
    )
    return cmd.run(opts, _ctx(tctx))


@profiles_app.callback()
def profiles_list(tctx: typer.Context, json_: JsonOpt = False) -> Optional[int]:
    """List profiles: name, API URL, user, session state and storage."""
    if tctx.invoked_subcommand is not None:
        return None
    from .commands import profiles as cmd

    return cmd.list_profiles(cmd.ProfilesOptions(json=json_), _ctx(tctx))


ProfileName = Annotated[str, typer.Argument(metavar="NAME", help="Profile name.", autocompletion=_complete_profiles)]


@profiles_app.command("use", epilog=_examples("authcli profiles use staging"))
def profiles_use(tctx: typer.Context, name: ProfileName) -> int:
    """Make NAME the default profile."""
    from .commands import profiles as cmd

    return cmd.use(cmd.ProfileNameOptions(name=name), _ctx(tctx))


@profiles_app.command("remove", epilog=_examples("authcli profiles remove staging"))
def profiles_remove(tctx: typer.Context, name: ProfileName) -> int:
    """Delete NAME's configuration and its stored tokens."""
    from .commands import profiles as cmd

    return cmd.remove(cmd.ProfileNameOptions(name=name), _ctx(tctx))


@app.command("dev-server", epilog=_examples(
    "authcli dev-server --port 8080",
    "authcli dev-server --access-ttl 10   # watch tokens expire and renew",
))
def dev_server(
    tctx: typer.Context,
    port: Annotated[int, typer.Option("--port", metavar="N", help="Port on 127.0.0.1 (0 picks a free one).")] = 0,
    access_ttl: Annotated[float, typer.Option("--access-ttl", metavar="SECONDS", help="Access token lifetime.")] = 60.0,
    refresh_ttl: Annotated[float, typer.Option("--refresh-ttl", metavar="SECONDS", help="Refresh token lifetime.")] = 86400.0,
    clock_skew: Annotated[float, typer.Option("--clock-skew", metavar="SECONDS", help="Run the server's clock ahead (or behind, negative).")] = 0.0,
    refresh_delay: Annotated[float, typer.Option("--refresh-delay", metavar="SECONDS", help="Delay every refresh answer.")] = 0.0,
    no_expires_in: Annotated[bool, typer.Option("--no-expires-in", help="Leave the lifetime out of token answers.")] = False,
    token_style: Annotated[str, typer.Option("--token-style", metavar="camel|snake", help="camel (accessToken) or snake (access_token).")] = "camel",
    tls_cert: Annotated[Optional[str], typer.Option("--tls-cert", metavar="PEM", help="Serve https with this certificate (with --tls-key).", show_default=False)] = None,
    tls_key: Annotated[Optional[str], typer.Option("--tls-key", metavar="PEM", help="The certificate's private key.", show_default=False)] = None,
) -> int:
    """Serve the reference API on loopback: login, rotating refresh tokens, reuse detection."""
    from .commands import dev_server as cmd

    opts = cmd.DevServerOptions(port=port, access_ttl=access_ttl, refresh_ttl=refresh_ttl, clock_skew=clock_skew,
                                refresh_delay=refresh_delay, no_expires_in=no_expires_in, token_style=token_style,
                                tls_cert=tls_cert, tls_key=tls_key)
    return cmd.run(opts, _ctx(tctx))


def _usage_line(exc: Exception) -> str:
    message = getattr(exc, "format_message", lambda: str(exc))()
    ctx = getattr(exc, "ctx", None)
    where = f"{ctx.command_path} --help" if ctx is not None else "authcli --help"
    return f"authcli: {message.rstrip('.')}; see '{where}'"


def run_typer(args: list[str]) -> int:
    """Parse ``args`` with the Typer app and run the command; click's own errors become one line."""
    from typer import Abort
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer._click.exceptions import UsageError as ClickUsageError

    if COMPLETE_VAR in os.environ:
        # A shell asking for completions (completions/*): teach the parser the shells' formats.
        from typer._completion_classes import completion_init

        completion_init()
    try:
        result = app(args=args, prog_name="authcli", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        sys.stderr.write(exc.format_message() + "\n")
        return int(ExitCode.USAGE)
    except ClickUsageError as exc:
        sys.stderr.write(_usage_line(exc) + "\n")
        return int(ExitCode.USAGE)
    except ClickException as exc:
        sys.stderr.write(f"authcli: {exc.format_message()}\n")
        return exc.exit_code
    except Abort:
        raise KeyboardInterrupt from None
    return result if isinstance(result, int) else 0
