"""authcli token: print a valid access token for tools that insist on one, bare (for
`$(authcli token)`), as JSON for other wrappers, as a Kubernetes ExecCredential for
kubectl's exec plugins, or as a curl config (`curl -K -`) so the token stays off curl's argv."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from ..claims import iso_utc
from ..context import Context
from ..errors import UsageError
from ..session import Session
from ..tokens import TokenRecord

FORMATS = ("token", "json", "exec-credential", "curl-config")
EXEC_CREDENTIAL_API = "client.authentication.k8s.io/v1"


@dataclass
class TokenOptions:
    profile: str | None = None
    min_ttl: float = 0.0
    format: str = "token"


def options(profile: str | None, min_ttl: float, format_: str) -> TokenOptions:
    """From the command line's parameters (cli.py's and main.py's fast path alike)."""
    return TokenOptions(profile, min_ttl, format_)


def render(record: TokenRecord, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"access_token": record.access_token, "token_type": record.token_type,
                           "expires_at": iso_utc(record.expires_at)}) + "\n"
    if fmt == "exec-credential":
        status: dict[str, str] = {"token": record.access_token}
        if record.expires_at is not None:
            # kubectl caches the credential until then; without it, it runs authcli every time.
            status["expirationTimestamp"] = iso_utc(record.expires_at) or ""
        return json.dumps({"apiVersion": EXEC_CREDENTIAL_API, "kind": "ExecCredential", "spec": {},
                           "status": status}) + "\n"
    if fmt == "curl-config":
        # curl's config syntax: a double-quoted value takes \\ and \" escapes.
        quoted = record.access_token.replace("\\", "\\\\").replace('"', '\\"')
        return f'header = "Authorization: Bearer {quoted}"\n'
    return record.access_token + "\n"


def run(opts: TokenOptions, ctx: Context) -> int:
    if not (math.isfinite(opts.min_ttl) and opts.min_ttl >= 0):
        raise UsageError("--min-ttl must be a finite number of seconds, zero or more")
    if opts.format not in FORMATS:
        raise UsageError(f"unknown --format {opts.format!r}: use token, json, exec-credential or curl-config")
    profile = ctx.profile(opts.profile)
    if profile.dpop and opts.format != "json":
        raise UsageError(f"profile '{profile.name}' holds DPoP-bound tokens, which are useless without a proof "
                         "signed by its key: use authcli call, proxy or exec, or --format json for the token "
                         "and its type")
    record = Session(ctx, profile).valid_record(min_ttl=opts.min_ttl)
    ctx.io.write_out(render(record, opts.format))
    return 0
