"""authcli call: an authenticated request for scripts, handed back the way curl would."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from ..config import check_seconds
from ..context import Context
from ..errors import AuthcliError, HTTPStatusError, UsageError
from ..http import make_client, translate
from ..iostreams import IOStreams
from ..oscalls import signals
from ..output import (
    UPLOAD_PROGRESS_MIN,
    check_target,
    download,
    is_json,
    output_file,
    progress,
    read_json_page,
    stream_body,
    write_head,
    write_json,
)
from ..request import make_body, parse_headers, parse_query, resolve_url, split_method_path
from ..session import Session
from ..transfer import Call, Sender, trace_hooks
from ..urls import origin_str


@dataclass
class CallOptions:
    first: str
    second: str | None = None
    profile: str | None = None
    headers: list[str] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    data: str | None = None
    fields: list[str] = field(default_factory=list)
    include: bool = False
    output: str | None = None
    raw: bool = False
    fail: bool = True
    timeout: float = 30.0
    retry: int = 0
    retry_all: bool = False
    paginate: bool = False
    verbose: bool = False
    cacert: str | None = None
    chunked: bool = False


def options(first: str, second: str | None, profile: str | None, header: list[str] | None, query: list[str] | None,
            data: str | None, field_: list[str] | None, include: bool, output: str | None, raw: bool, fail: bool,
            timeout: float, retry: int, retry_all: bool, paginate: bool, verbose: bool, cacert: str | None,
            chunked: bool) -> CallOptions:
    """From the command line's parameters (cli.py's and main.py's fast path alike)."""
    return CallOptions(first, second, profile, header or [], query or [], data, field_ or [], include, output, raw,
                       fail, timeout, retry, retry_all, paginate, verbose, cacert, chunked)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: a partial download is removed


def build_call(opts: CallOptions, ctx: Context, api_url: str) -> Call:
    method, path = split_method_path(opts.first, opts.second)
    check_seconds(opts.timeout, "--timeout")
    if opts.retry < 0:
        raise UsageError("--retry must be zero or more")
    url = resolve_url(api_url, path)
    query = parse_query(opts.query)
    if query:
        merged = httpx.URL(url)
        for key, value in query:
            merged = merged.copy_add_param(key, value)
        url = str(merged)
    body = make_body(opts.data, opts.fields, ctx.io.stdin_bytes(), opts.chunked)
    return Call(
        method=method or ("POST" if body is not None else "GET"),
        url=url,
        headers=parse_headers(opts.headers),
        body=body,
        timeout=opts.timeout,
        retry=opts.retry,
        retry_all=opts.retry_all,
    )


def run(opts: CallOptions, ctx: Context) -> int:
    profile = ctx.profile(opts.profile)
    session = Session(ctx, profile)
    call = build_call(opts, ctx, profile.api_url or "")
    if opts.output:
        check_target(opts.output)  # a directory is exit 2 before anything is sent
        for signum in signals("SIGTERM", "SIGHUP", "SIGQUIT"):
            signal.signal(signum, _terminate)
    hooks = trace_hooks(ctx.io) if opts.verbose else None
    pretty = ctx.io.stdout_tty and not opts.raw
    upload_bar = call.body is not None and (call.body.size or 0) >= UPLOAD_PROGRESS_MIN and call.body.path is not None
    with make_client(profile, ctx.env, profile.api_url or "", timeout=opts.timeout, cacert=opts.cacert) as client:
        if hooks:
            client.event_hooks = hooks
        sender = Sender(client, session, ctx.io)
        with progress(ctx.io, "upload", call.body.size if call.body else None, enabled=upload_bar) as advance:
            if call.body is not None:
                call.body.progress = advance
            response = sender.send(call)
        if opts.paginate and opts.output:
            # The merged result goes to the file, written like any -o download.
            with output_file(opts.output) as sink:
                file_io = IOStreams.to_binary(sink, ctx.io)
                try:
                    return _pages(opts, replace(ctx, io=file_io), sender, call, response, False, session.api_origin)
                finally:
                    file_io.stdout.flush()
                    file_io.stdout.detach()  # type: ignore[attr-defined]  # the sink is output_file's to close
        if opts.paginate:
            return _pages(opts, ctx, sender, call, response, pretty, session.api_origin)
        return _single(opts, ctx, sender, response, pretty)


@contextmanager
def _reading(response: httpx.Response, timeout: float) -> Iterator[None]:
    """While the body streams in: network errors become authcli's; the response is closed."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise translate(exc, str(response.url), timeout) from None
    finally:
        response.close()


def _single(opts: CallOptions, ctx: Context, sender: Sender, response: httpx.Response, pretty: bool) -> int:
    failing = opts.fail and response.status_code >= 400
    with _reading(response, opts.timeout):
        if opts.include:
            write_head(ctx.io, response)
        if opts.output and not failing:
            download(ctx.io, response, opts.output)
        else:
            stream_body(ctx.io, response, pretty)
    _check(sender, response, failing)
    return 0


def _check(sender: Sender, response: httpx.Response, failing: bool) -> None:
    if sender.auth is not None and sender.auth.unsent_after_refresh:
        raise HTTPStatusError(
            "HTTP 401 Unauthorized: the session was refreshed, but the body came from stdin and "
            "cannot be sent again; run the command again"
        )
    if failing:
        raise HTTPStatusError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())


def _pages(opts: CallOptions, ctx: Context, sender: Sender, call: Call, response: httpx.Response,
           pretty: bool, api_origin: str) -> int:
    """Follow rel="next" on the API's origin; JSON array pages become one array, other bodies
    are written as they come. On an error page, what was collected is written first."""
    collected: list[Any] | None = None
    while True:
        failing = opts.fail and response.status_code >= 400
        with _reading(response, opts.timeout):
            if opts.include:
                write_head(ctx.io, response)
            page = read_json_page(response) if is_json(response) and not failing else None
            if isinstance(page, list):
                collected = collected if collected is not None else []
                collected.extend(page)
            else:
                if failing and collected is not None:
                    write_json(ctx.io, collected, pretty)
                    collected = None
                if page is None:
                    stream_body(ctx.io, response, pretty)
                elif isinstance(page, bytes):
                    ctx.io.write_bytes(page)
                else:
                    write_json(ctx.io, page, pretty)
        _check(sender, response, failing)
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            break
        next_url = str(response.url.join(next_url))
        if origin_str(next_url) != api_origin:
            if collected is not None:
                write_json(ctx.io, collected, pretty)
            raise AuthcliError(f"the next page is on another origin ({origin_str(next_url)}); not followed")
        response = sender.send(Call("GET", next_url, call.headers, None, call.timeout, call.retry, call.retry_all))
    if collected is not None:
        write_json(ctx.io, collected, pretty)
    return 0
