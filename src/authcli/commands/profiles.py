"""authcli profiles: list, choose and remove profiles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..claims import jwt_claims
from ..config import check_api_url_setting, check_profile_name, effective
from ..context import Context
from ..errors import AuthcliError
from ..session import Session
from ..termsafe import printable
from .logout import end_session


@dataclass
class ProfilesOptions:
    json: bool = False


@dataclass
class ProfileNameOptions:
    name: str


def _row(ctx: Context, name: str, current: str) -> dict[str, Any]:
    raw = ctx.config.profiles[name]
    row: dict[str, Any] = {
        "name": name,
        "current": name == current,
        "api_url": raw.api_url,
        "storage": raw.storage,
        "user": None,
        "session": "none",
    }
    try:
        # One broken profile (a bad name, a bad setting, an unreadable store) is one row
        # with its error, never a reason to hide the others.
        check_profile_name(name)
        profile = effective(check_api_url_setting(raw, ctx.config.path), ctx.env)
        row["storage"] = profile.storage
        record = Session(ctx, profile).load()
    except AuthcliError as exc:
        row["session"] = "unknown"
        row["error"] = exc.message
        return row
    if record is not None:
        now = ctx.clock()
        claims = jwt_claims(record.access_token) or {}
        row["user"] = claims.get("email") or claims.get("sub")
        if record.valid_for(now):
            row["session"] = "active"
        elif record.refresh_token:
            row["session"] = "renewable"
        else:
            row["session"] = "expired"
    return row


def list_profiles(opts: ProfilesOptions, ctx: Context) -> int:
    config = ctx.config
    current = config.default_name(ctx.env)
    rows = [_row(ctx, name, current) for name in sorted(config.profiles)]
    if opts.json:
        ctx.io.write_out(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        ctx.io.info("No profiles yet; create one with: authcli login --api-url URL")
        return 0
    header = ("", "PROFILE", "API URL", "USER", "SESSION", "STORAGE")
    table = [header] + [
        ("*" if r["current"] else "", r["name"], r["api_url"] or "-", r["user"] or "-",
         f"{r['session']} ({r['error']})" if "error" in r else r["session"], r["storage"])
        for r in rows
    ]
    table = [tuple(printable(str(c)) for c in line) for line in table]  # names and URLs come from a hand-edited file
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    out = "".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in table)
    ctx.io.write_out(out)
    return 0


def use(opts: ProfileNameOptions, ctx: Context) -> int:
    with ctx.edit_config() as config:
        config.resolve(opts.name, ctx.env)  # raises the one "unknown profile" error
        config.current = opts.name
    ctx.io.info(f"Profile '{opts.name}' is now the default.")
    return 0


def remove(opts: ProfileNameOptions, ctx: Context) -> int:
    profile = ctx.config.resolve(opts.name, ctx.env)
    end_session(ctx, effective(profile, ctx.env))
    with ctx.edit_config() as config:
        config.profiles.pop(opts.name, None)
        if config.current == opts.name:
            config.current = None
    ctx.io.info(f"Removed profile '{opts.name}' and its stored tokens.")
    return 0
