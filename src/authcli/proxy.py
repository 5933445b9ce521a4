"""A local reverse proxy to the profile's API that attaches the session's token.

Clients (SDKs, notebooks, tools with their own HTTP client) send the proxy's per-run local
secret as their bearer token; the proxy checks it, swaps it for the session's access token
and streams the request to the API and the answer back, unchanged. The token never leaves
this process except towards the API's own origin (SessionAuth), and the proxy reaches
nothing but paths under the profile's api_url.

Guards, each answered by the proxy itself and never forwarded:
- a connection from another local user (403, before a byte is read; peercheck.py: the
  local secret may have been read from a process's argv);
- more than AUTHCLI_PROXY_MAX_CONNECTIONS open connections (503), and a request head not
  complete within AUTHCLI_PROXY_HEAD_TIMEOUT seconds (the connection is closed);
- framing that is not exactly one of no body, Content-Length or chunked (400/501, and the
  connection closed: httpframing.py), a malformed chunked body (400);
- a wrong or missing local secret (401), a Host header that is not the proxy's own loopback
  address (403, DNS rebinding), absolute-form targets and CONNECT (400/405);
- a path that leaves api_url's path once dot segments are removed, percent-decoded or not (400).
No CORS headers are ever added. Redirects to the API, relative ones included, point back at
the proxy.

Tokens come from the engine through TokenSource: the stored record is read again for every
request (so a logout, or a login as someone else, counts from the next request on), and
refreshed by one engine call at a time on the main thread (mainthread.py), so 200 concurrent
requests across an expiry cause one refresh.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx

from .auth import SessionAuth
from .errors import AuthcliError, AuthError, NotLoggedIn, UsageError
from .http import translate
from .httpframing import climbs_out, framing_problem
from .iostreams import IOStreams
from .peercheck import check_socket_owner
from .proxyconn import TCPServer, UnixServer, Watchdog
from .session import Session, login_hint
from .termsafe import printable
from .tokens import TokenRecord
from .urls import join, origin_str

if TYPE_CHECKING:
    from .context import Context
    from .mainthread import MainLoop

CHUNK = 64 * 1024
HEAD_TIMEOUT = 10.0  # seconds to send a request head (AUTHCLI_PROXY_HEAD_TIMEOUT)
MAX_CONNECTIONS = 256  # open at once (AUTHCLI_PROXY_MAX_CONNECTIONS); a thread each
RENEW_PAUSE = 10.0
REPLAY_LIMIT = 1024 * 1024  # a request body up to this size is kept, so a 401 can be replayed
# RFC 9110 7.6.1, and what the proxy sets itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "authorization",
})
CLIENT_DEFAULTS = frozenset({"accept", "accept-encoding", "user-agent"})
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class TokenSource:
    """The session's access token for the proxy's threads, shaped like Session for SessionAuth.

    The stored record is read again for every request: a logout, or a login as someone else,
    in another process counts from the next request on. Reads that started after a request
    arrived serve it too, so a burst of requests costs a read or two (a keyring read is a
    D-Bus call, made on the main thread like every engine call).

    A token renewed because the API answered 401 is not renewed again for RENEW_PAUSE when
    the API rejects it too: that API says no to this session, not to an old token, and every
    request through the proxy would otherwise cost a refresh."""

    def __init__(self, session: Session, on_main: Callable[[Callable[[], TokenRecord]], TokenRecord],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.api_origin = session.api_origin
        self._on_main = on_main
        self._clock = clock
        self._started = 0  # reads of the store started, each one's number
        self._read: TokenRecord | None = None  # what the last good read found...
        self._read_number = 0  # ...and its number
        self._renewed: tuple[str, float] | None = None  # (token, when) renewed after a 401
        self._lock = threading.Lock()

    def valid_record(self, min_ttl: float = 0.0, rejected: str | None = None) -> TokenRecord:
        arrived = self._started
        with self._lock:  # one engine call at a time; the others then find its token here
            record = self._stored(arrived)
            if rejected is not None and self._renewed is not None and self._renewed[0] == rejected \
                    and self._clock() - self._renewed[1] < RENEW_PAUSE and record.access_token == rejected \
                    and self.session.usable(record, 0.0, None):
                return record
            if not self.session.usable(record, 0.0, rejected):
                record = self._on_main(lambda: self.session.valid_record(rejected=rejected))
                self._read = record
                if rejected is not None:
                    self._renewed = (record.access_token, self._clock())
            return record

    def _stored(self, arrived: int) -> TokenRecord:
        if self._read_number <= arrived:  # the last read started before this request arrived
            self._started += 1
            number, load = self._started, self.session.load
            # A file is read in this thread; other stores' clients belong to the main thread.
            self._read = load() if self.session.store.kind == "file" else self._on_main(load)  # type: ignore[arg-type]
            self._read_number = number
        if self._read is None:
            raise NotLoggedIn(f"not logged in; run {login_hint(self.session.profile.name)}")
        return self._read


class Proxy:
    """What every request needs: where to send it, the secret to check, the client, the log."""

    def __init__(self, api_url: str, secret: str, tokens: TokenSource, client: httpx.Client, io: IOStreams,
                 quiet: bool = False, head_timeout: float = HEAD_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_origin = origin_str(api_url)
        self.api_path = urlsplit(self.api_url).path
        self.secret = secret.encode()
        self.tokens = tokens
        self.client = client
        self.io = io
        self.quiet = quiet
        self.allowed_hosts: frozenset[str] | None = None  # None: any Host (a Unix socket)
        self.public_url = ""
        self.heads = Watchdog(head_timeout)
        self.max_connections = max_connections
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

    def handle_one_request(self) -> None:
        self.proxy.heads.arm(self.connection)
        try:
            super().handle_one_request()
        finally:
            self.proxy.heads.disarm(self.connection)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if not self.proxy.heads.disarm(self.connection):
            self.close_connection = True  # too late: the watchdog is closing it; a head cut short is no request
            return False
        return True

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
        problem = framing_problem(self.headers, self.request_version)
        if problem is not None:
            return self._refuse(*problem)
        if not self.path.startswith("/") or self.path.startswith("//"):
            return self._refuse(400, "bad_request", "only paths are accepted (no absolute URLs): the proxy reaches "
                                "the profile's API and nothing else")
        if climbs_out(self.path):
            return self._refuse(400, "bad_request", "that path leaves the profile's API (dot segments, "
                                "percent-encoded or not)")
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
        content, replayable = self._request_body()
        headers = _end_to_end(self.headers.items())
        request = proxy.client.build_request(self.command, url, headers=headers, content=content)
        if origin_str(str(request.url)) != proxy.api_origin or not _under(proxy.api_path, request.url.path):
            # climbs_out() keeps it under api_url; never forward elsewhere, whatever httpx makes of the URL
            return self._refuse(400, "bad_request", "that path leaves the profile's API")
        sent = {name.lower() for name, _ in headers}
        for name in CLIENT_DEFAULTS - sent:
            # httpx's own defaults: an Accept-Encoding the client did not send would bring back
            # a compressed body it cannot read, since bodies pass through undecoded.
            request.headers.pop(name, None)
        try:
            response = proxy.client.send(request, auth=SessionAuth(proxy.tokens, replayable=replayable), stream=True)
        except BadBody as exc:
            return self._refuse(400, "bad_request", str(exc))
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
        """The body as framing_problem() let it through: chunked, a Content-Length, or none."""
        if "Transfer-Encoding" in self.headers:
            return _dechunk(self.rfile), False
        given = self.headers.get("Content-Length")
        if given is None:
            return None, True
        length = int(given)
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
                value = self._local_location(value, str(response.request.url))
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

    def _local_location(self, value: str, requested: str) -> str:
        """A redirect to the API itself points back at the proxy, so the client stays on it; a
        relative one elsewhere on the API's origin becomes absolute (it is not under the proxy);
        one to another origin is passed on as it is."""
        base = self.proxy.api_url
        target = urljoin(requested, value)
        if target == base or target.startswith(base + "/") or target.startswith(base + "?"):
            return self.proxy.public_url + target[len(base):]
        if origin_str(target) == self.proxy.api_origin and not urlsplit(value).netloc:
            return target
        return value


def _under(base_path: str, path: str) -> bool:
    return not base_path or path == base_path or path.startswith(base_path + "/")


def _end_to_end(items: Any) -> list[tuple[str, str]]:
    """The headers a proxy passes on: not hop-by-hop ones, nor those the Connection header names."""
    items = list(items)
    named = {token.strip().lower() for name, value in items if name.lower() == "connection"
             for token in value.split(",")}
    return [(name, value) for name, value in items if name.lower() not in HOP_BY_HOP | named]


class BadBody(Exception):
    """The client's request body ended early or is not chunked coding (its fault: 400)."""


def _exactly(source: Any, length: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        piece = source.read(min(CHUNK, left))
        if not piece:
            raise BadBody("the request body ended before its length")
        left -= len(piece)
        yield piece


def _dechunk(source: Any) -> Iterator[bytes]:
    while True:
        field = source.readline(1024).split(b";", 1)[0].strip()
        if not _HEX.fullmatch(field):  # int(field, 16) would take "+1", "0x1" or "1_0"
            raise BadBody("the request body is not valid chunked coding")
        size = int(field, 16)
        if size == 0:
            while source.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers: dropped
            return
        yield from _exactly(source, size)
        if source.readline(1024) not in (b"\r\n", b"\n"):
            raise BadBody("the request body is not valid chunked coding")


def make_server(proxy: Proxy, port: int | None, socket_path: str | None) -> TCPServer | UnixServer:
    """Bound and listening (on 127.0.0.1, or a Unix socket created 0600), not yet serving."""
    # Headers and body go out as separate writes: with Nagle's algorithm on, a kept-alive
    # client's delayed ACK would stall each answer by 40 ms. (TCP_NODELAY exists only for TCP.)
    handler = type("ProxyHandler", (Handler,), {"proxy": proxy, "disable_nagle_algorithm": socket_path is None})
    server: TCPServer | UnixServer
    if socket_path is not None:
        from .fsutil import bind_private_socket

        check_socket_owner(socket_path)
        server = bind_private_socket(socket_path, lambda: UnixServer(socket_path, handler))
        proxy.public_url = "http://localhost"
    else:
        server = TCPServer(("127.0.0.1", port or 0), handler)
        bound = server.server_address[1]
        proxy.public_url = f"http://127.0.0.1:{bound}"
        proxy.allowed_hosts = frozenset({f"127.0.0.1:{bound}", f"localhost:{bound}"})
    server.max_connections, server.log = proxy.max_connections, proxy.log
    return server


@contextmanager
def running(ctx: Context, profile_flag: str | None, loop: MainLoop, port: int | None = None,
            socket_path: str | None = None, quiet: bool = False, timeout: float = 300.0) -> Iterator[Proxy]:
    """A proxy serving in a background thread for the block; its token calls run on ``loop``.

    It starts only with a session (refreshed now if due): a proxy that would answer every
    request with 401 from the start is a typo in the profile name, not a service."""
    import secrets

    from .config import number_from_env
    from .http import make_client
    from .quickack import quick_acks

    profile = ctx.profile(profile_flag)
    session = Session(ctx, profile)
    assert profile.api_url is not None  # Session() refuses a profile without one
    tokens = TokenSource(session, loop.call)
    tokens.valid_record()
    # More connections than httpx's default 100: requests are served concurrently.
    client = make_client(profile, ctx.env, profile.api_url, timeout=timeout,
                         limits=httpx.Limits(max_connections=512, max_keepalive_connections=64))
    quick_acks(client)
    proxy = Proxy(profile.api_url, secrets.token_urlsafe(32), tokens, client, ctx.io, quiet,
                  head_timeout=number_from_env(ctx.env, "AUTHCLI_PROXY_HEAD_TIMEOUT", HEAD_TIMEOUT),
                  max_connections=_count_from_env(ctx.env, "AUTHCLI_PROXY_MAX_CONNECTIONS", MAX_CONNECTIONS))
    server = make_server(proxy, port, socket_path)
    # A short poll: stopping (exec's program gone, Ctrl-C) waits for the serving loop to notice.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="authcli-proxy",
                              daemon=True)
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


def _count_from_env(env: Mapping[str, str], name: str, fallback: int) -> int:
    raw = env.get(name)
    if not raw:
        return fallback
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise UsageError(f"{name}={printable(raw)!r} is not a number of connections from 1 to 100000")
    return int(raw)
