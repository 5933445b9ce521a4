"""A local reverse proxy to the profile's API that attaches the session's token.

Clients (SDKs, notebooks, tools with their own HTTP client) send the proxy's per-run local
secret as their bearer token; the proxy checks it, swaps it for the session's access token
and streams the request to the API and the answer back, unchanged. The token never leaves
this process except towards the API's own origin (SessionAuth), and the proxy reaches
nothing but paths under the profile's api_url.

Guards, each answered by the proxy itself and never forwarded: a wrong or missing local
secret (401), a Host header that is not the proxy's own loopback address (403, DNS
rebinding), absolute-form targets and CONNECT (400/405). No CORS headers are ever added.

Tokens come from the engine through TokenSource: kept in memory while usable, otherwise one
engine call at a time on the main thread (mainloop.py), so 200 concurrent requests across an
expiry cause one refresh.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingUnixStreamServer
from typing import TYPE_CHECKING, Any

import httpx

from .auth import SessionAuth
from .errors import AuthcliError, AuthError
from .http import translate
from .io import IOStreams
from .session import Session
from .text import printable
from .tokens import TokenRecord
from .urls import join, origin_str

if TYPE_CHECKING:
    from .context import Context
    from .mainloop import MainLoop

CHUNK = 64 * 1024
RENEW_PAUSE = 10.0
REPLAY_LIMIT = 1024 * 1024  # a request body up to this size is kept, so a 401 can be replayed
# RFC 9110 7.6.1, and what the proxy sets itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "authorization",
})
CLIENT_DEFAULTS = frozenset({"accept", "accept-encoding", "user-agent"})


class TokenSource:
    """The session's access token for the proxy's threads, shaped like Session for SessionAuth.

    A token renewed because the API answered 401 is not renewed again for RENEW_PAUSE when
    the API rejects it too: that API says no to this session, not to an old token, and every
    request through the proxy would otherwise cost a refresh."""

    def __init__(self, session: Session, on_main: Callable[[Callable[[], TokenRecord]], TokenRecord],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.api_origin = session.api_origin
        self._on_main = on_main
        self._clock = clock
        self._record: TokenRecord | None = None
        self._renewed: tuple[str, float] | None = None  # (token, when) renewed after a 401
        self._lock = threading.Lock()

    def valid_record(self, min_ttl: float = 0.0, rejected: str | None = None) -> TokenRecord:
        with self._lock:  # one engine call at a time; the others then find its token here
            record = self._record
            if rejected is not None and self._renewed is not None and self._renewed[0] == rejected \
                    and self._clock() - self._renewed[1] < RENEW_PAUSE and record is not None \
                    and record.access_token == rejected and self.session.usable(record, 0.0, None):
                return record
            if record is None or not self.session.usable(record, 0.0, rejected):
                record = self._on_main(lambda: self.session.valid_record(rejected=rejected))
                self._record = record
                if rejected is not None:
                    self._renewed = (record.access_token, self._clock())
            return record


class Proxy:
    """What every request needs: where to send it, the secret to check, the client, the log."""

    def __init__(self, api_url: str, secret: str, tokens: TokenSource, client: httpx.Client, io: IOStreams,
                 quiet: bool = False) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_origin = origin_str(api_url)
        self.secret = secret.encode()
        self.tokens = tokens
        self.client = client
        self.io = io
        self.quiet = quiet
        self.allowed_hosts: frozenset[str] | None = None  # None: any Host (a Unix socket)
        self.public_url = ""
        self._log_lock = threading.Lock()

    def log(self, line: str) -> None:
        if not self.quiet:
            with self._log_lock:
                self.io.info(line)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "authcli-proxy"
    proxy: Proxy  # set on the subclass make_server() builds

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request, written by _forward, and never the query string

    def address_string(self) -> str:
        return "local"  # a Unix socket's client has no address

    def do_CONNECT(self) -> None:
        self._refuse(405, "method_not_allowed", "the proxy does not tunnel (CONNECT); send requests to its URL")

    def _handle(self) -> None:
        started = time.monotonic()
        status = self._serve()
        path = self.path.split("?", 1)[0]
        self.proxy.log(f"{self.command} {printable(path)} {status} {(time.monotonic() - started) * 1000:.0f} ms")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    # -- guards ------------------------------------------------------------------------

    def _serve(self) -> int:
        if not self.path.startswith("/") or self.path.startswith("//"):
            return self._refuse(400, "bad_request", "only paths are accepted (no absolute URLs): the proxy reaches "
                                "the profile's API and nothing else")
        allowed = self.proxy.allowed_hosts
        if allowed is not None and (self.headers.get("Host") or "").lower() not in allowed:
            return self._refuse(403, "host_not_allowed", f"send requests to {self.proxy.public_url}")
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.proxy.secret):
            return self._refuse(401, "proxy_unauthorized", "send the proxy's local secret as 'Authorization: Bearer "
                                "<secret>' (AUTHCLI_API_TOKEN under authcli exec)",
                                {"WWW-Authenticate": 'Bearer realm="authcli-proxy"'})
        return self._forward()

    def _refuse(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> int:
        # The request's body is left unread, so the connection cannot carry another request.
        self.close_connection = True
        body = json.dumps({"error": error, "message": f"authcli proxy: {message}"}).encode() + b"\n"
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                            "Connection": "close", **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status

    # -- forwarding ----------------------------------------------------------------------

    def _forward(self) -> int:
        proxy = self.proxy
        url = join(proxy.api_url, self.path)
        if origin_str(url) != proxy.api_origin:  # join() keeps it under api_url; never forward elsewhere
            return self._refuse(400, "bad_request", "that path leaves the profile's API")
        try:
            content, replayable = self._request_body()
        except ValueError:
            return self._refuse(400, "bad_request", "the Content-Length header is not a number of bytes")
        headers = _end_to_end(self.headers.items())
        request = proxy.client.build_request(self.command, url, headers=headers, content=content)
        sent = {name.lower() for name, _ in headers}
        for name in CLIENT_DEFAULTS - sent:
            # httpx's own defaults: an Accept-Encoding the client did not send would bring back
            # a compressed body it cannot read, since bodies pass through undecoded.
            request.headers.pop(name, None)
        try:
            response = proxy.client.send(request, auth=SessionAuth(proxy.tokens, replayable=replayable), stream=True)
        except AuthError as exc:
            return self._refuse(401, "not_logged_in", exc.message)
        except AuthcliError as exc:
            return self._refuse(502, "token_unavailable", exc.message)
        except httpx.TimeoutException as exc:
            return self._refuse(504, "gateway_timeout", translate(exc, url).message)
        except httpx.HTTPError as exc:
            return self._refuse(502, "bad_gateway", translate(exc, url).message)
        try:
            self._relay(response)
        finally:
            response.close()
        return response.status_code

    def _request_body(self) -> tuple[bytes | Iterator[bytes] | None, bool]:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return _dechunk(self.rfile), False
        given = self.headers.get("Content-Length")
        if given is None:
            return None, True
        length = int(given)
        if length < 0:
            raise ValueError(given)
        if length <= REPLAY_LIMIT:
            return self.rfile.read(length), True
        return _exactly(self.rfile, length), False

    def _relay(self, response: httpx.Response) -> None:
        self.send_response_only(response.status_code, response.reason_phrase or None)
        length = response.headers.get("content-length")
        no_body = self.command == "HEAD" or response.status_code in (204, 304) or response.status_code < 200
        chunked = length is None and not no_body and self.request_version != "HTTP/1.0"
        if length is None and not no_body and not chunked:
            self.close_connection = True  # an HTTP/1.0 client reads the body up to the close
        for name, value in _end_to_end(response.headers.multi_items()):
            if name.lower() == "location":
                value = self._local_location(value)
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        try:
            for piece in response.iter_raw(CHUNK):  # still content-encoded: passed through as it came
                if not piece:
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except httpx.HTTPError:
            self.close_connection = True  # the answer broke off: the client must see a short body
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _local_location(self, value: str) -> str:
        """A redirect to the API itself points back at the proxy, so the client stays on it."""
        base = self.proxy.api_url
        if value == base or value.startswith(base + "/") or value.startswith(base + "?"):
            return self.proxy.public_url + value[len(base):]
        return value


def _end_to_end(items: Any) -> list[tuple[str, str]]:
    """The headers a proxy passes on: not hop-by-hop ones, nor those the Connection header names."""
    items = list(items)
    named = {token.strip().lower() for name, value in items if name.lower() == "connection"
             for token in value.split(",")}
    return [(name, value) for name, value in items if name.lower() not in HOP_BY_HOP | named]


def _exactly(source: Any, length: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        piece = source.read(min(CHUNK, left))
        if not piece:
            raise httpx.ReadError("the client closed the request body early")
        left -= len(piece)
        yield piece


def _dechunk(source: Any) -> Iterator[bytes]:
    while True:
        line = source.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise httpx.ReadError("malformed chunked request body") from None
        if size == 0:
            while source.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers: dropped
            return
        yield from _exactly(source, size)
        source.readline(1024)


class _Quiet:
    """socketserver prints a traceback for an error in a handler. The proxy answers its own
    failures as JSON; a client that went away mid-answer is not news; anything else gets the
    one line every authcli error gets."""

    daemon_threads = True
    request_queue_size = 256  # 200 concurrent clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            sys.stderr.write(f"authcli: proxy: unexpected error ({type(exc).__name__}: {printable(str(exc))})\n")


class _TCPServer(_Quiet, ThreadingHTTPServer):
    pass


class _UnixServer(_Quiet, ThreadingUnixStreamServer):
    pass


def make_server(proxy: Proxy, port: int | None, socket_path: str | None) -> ThreadingHTTPServer | _UnixServer:
    """Bound and listening (on 127.0.0.1, or a Unix socket created 0600), not yet serving."""
    # Headers and body go out as separate writes: with Nagle's algorithm on, a kept-alive
    # client's delayed ACK would stall each answer by 40 ms. (TCP_NODELAY exists only for TCP.)
    handler = type("ProxyHandler", (Handler,), {"proxy": proxy, "disable_nagle_algorithm": socket_path is None})
    if socket_path is not None:
        from .fsutil import bind_private_socket

        server: ThreadingHTTPServer | _UnixServer = bind_private_socket(
            socket_path, lambda: _UnixServer(socket_path, handler))
        proxy.public_url = "http://localhost"
        return server
    tcp = _TCPServer(("127.0.0.1", port or 0), handler)
    bound = tcp.server_address[1]
    proxy.public_url = f"http://127.0.0.1:{bound}"
    proxy.allowed_hosts = frozenset({f"127.0.0.1:{bound}", f"localhost:{bound}"})
    return tcp


@contextmanager
def running(ctx: Context, profile_flag: str | None, loop: MainLoop, port: int | None = None,
            socket_path: str | None = None, quiet: bool = False, timeout: float = 300.0) -> Iterator[Proxy]:
    """A proxy serving in a background thread for the block; its token calls run on ``loop``.

    It starts only with a session (refreshed now if due): a proxy that would answer every
    request with 401 from the start is a typo in the profile name, not a service."""
    import secrets

    from .http import make_client

    profile = ctx.profile(profile_flag)
    session = Session(ctx, profile)
    assert profile.api_url is not None  # Session() refuses a profile without one
    tokens = TokenSource(session, loop.call)
    tokens.valid_record()
    # More connections than httpx's default 100: requests are served concurrently.
    client = make_client(profile, ctx.env, profile.api_url, timeout=timeout,
                         limits=httpx.Limits(max_connections=512, max_keepalive_connections=64))
    proxy = Proxy(profile.api_url, secrets.token_urlsafe(32), tokens, client, ctx.io, quiet)
    server = make_server(proxy, port, socket_path)
    thread = threading.Thread(target=server.serve_forever, name="authcli-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        client.close()
        if socket_path is not None:
            with suppress(FileNotFoundError):
                os.unlink(socket_path)
