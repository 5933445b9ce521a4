"""The built-in reference API: the JSON login protocol plus a few protected endpoints.

Standard library HTTP server on loopback, so it starts in well under a second. Besides the JSON
login protocol it has an OAuth token endpoint, POST /oauth/token (client credentials and token
exchange, client authentication by secret or JWT: oauth.py) with its discovery document. Test
knobs (unauthenticated, loopback only): GET /_stats, GET /_seen, GET /_token_requests,
POST /_admin/config, POST /_admin/fault, POST /_admin/revoke-access.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .state import DEMO_USERS, Rejected, Settings, State

PAGE_SIZE = 5
ITEM_COUNT = 12


class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # hundreds of parallel authcli processes connect at once

    def __init__(self, port: int, state: State, tls: tuple[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state
        self.scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: DevServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.server.state

    def _body(self) -> bytes:
        return b"".join(self._pieces())

    def _body_digest(self) -> tuple[int, str, bytes]:
        """Length, SHA-256 and the first 4 KiB of the body, read in pieces: a 1 GiB upload
        through the proxy's benchmark costs the server no memory."""
        digest, head, length = hashlib.sha256(), b"", 0
        for piece in self._pieces():
            digest.update(piece)
            head += piece[: max(0, 4097 - len(head))]
            length += len(piece)
        return length, digest.hexdigest(), head

    def _pieces(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return
                yield from self._exactly(size)
                self.rfile.readline()
        yield from self._exactly(int(self.headers.get("Content-Length") or 0))

    def _exactly(self, size: int) -> Iterator[bytes]:
        while size > 0:
            piece = self.rfile.read(min(size, 65536))
            if not piece:
                return
            size -= len(piece)
            yield piece

    def _json_body(self) -> Any:
        try:
            return json.loads(self._body() or b"null")
        except ValueError:
            return None

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode() + b"\n", headers=headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _claims(self) -> dict[str, Any] | None:
        auth = self.headers.get("Authorization", "")
        if auth:
            with self.state.lock:
                self.state.seen_authorization.append({"path": self.path, "authorization": auth})
        self.state.count("api_requests")
        fault = self.state.take_fault("api-delay")
        if fault is not None:
            time.sleep(float(fault.get("delay", 1)))  # lets a sibling refresh before this token is checked
        if not auth.startswith("Bearer "):
            claims = None
        else:
            claims = self.state.check_access(auth[len("Bearer "):])
        if claims is None:
            self.state.count("api_unauthorized")
            self._body()  # drained, so the connection can carry the client's next request
            self._json(401, {"error": "invalid_token", "message": "missing, expired or revoked access token"},
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return claims

    # -- routing ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def do_PATCH(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def _route(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        method = self.command
        if path == "/auth/login" and method == "POST":
            return self._login()
        if path == "/auth/refresh" and method == "POST":
            return self._refresh()
        if path == "/auth/logout" and method == "POST":
            return self._logout()
        if path == "/_stats":
            with self.state.lock:
                return self._json(200, dict(self.state.stats))
        if path == "/oauth/token" and method == "POST":
            return self._oauth_token()
        if path == "/.well-known/openid-configuration":
            return self._json(404, {"error": "not_found", "message": "no OpenID Connect here; see RFC 8414's document"})
        if path == "/.well-known/oauth-authorization-server":
            from .oauth import metadata

            return self._json(200, metadata(self.server.url, self.state))
        if path == "/_token_requests":
            with self.state.lock:
                return self._json(200, list(self.state.token_requests))
        if path == "/_seen":
            with self.state.lock:
                return self._json(200, list(self.state.seen_authorization))
        if path.startswith("/_admin/") and method == "POST":
            return self._admin(path[len("/_admin/"):])
        if path in ("/", "/health"):
            return self._json(200, {"ok": True})
        # Everything below needs a valid access token.
        claims = self._claims()
        if claims is None:
            return None
        return self._api(method, path, query, claims)

    # -- the login protocol --------------------------------------------------------------

    def _login(self) -> None:
        data = self._json_body()
        if not isinstance(data, dict):
            return self._json(400, {"error": "invalid_request", "message": "expected a JSON object"})
        try:
            self._json(200, self.state.login(data.get("email"), data.get("password")))
        except Rejected as exc:
            self._json(exc.status, exc.body)

    def _refresh(self) -> None:
        data = self._json_body()
        self.state.count("refresh_requests")
        fault = self.state.take_fault("refresh")
        if fault is not None:
            return self._fault(fault)
        token = data.get("refreshToken", data.get("refresh_token")) if isinstance(data, dict) else None
        try:
            status, body = 200, self.state.refresh(token)
        except Rejected as exc:
            status, body = exc.status, exc.body
        if self.state.settings.refresh_delay:
            # Processed at once, answered late: the old token is already spent while the client waits.
            time.sleep(self.state.settings.refresh_delay)
        self._json(status, body)

    def _oauth_token(self) -> None:
        """OAuth 2.0 token endpoint: client credentials and token exchange (oauth.py)."""
        from .oauth import TokenDesk

        status, body = TokenDesk(self.state, self.server.url).answer(self._body(), self.headers.get("Authorization", ""))
        self._json(status, body, headers={"Cache-Control": "no-store"})

    def _fault(self, fault: dict[str, Any]) -> None:
        """Answer a refresh without processing it: the token stays unspent."""
        mode = fault.get("mode", "status")
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if mode == "status":
            status = int(fault.get("status", 500))
            return self._json(status, fault.get("body", {"error": "server_error", "message": f"injected {status}"}))
        if mode == "garbage":
            return self._send(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if mode == "no-token":
            return self._json(200, {"hello": "world"})
        return self._drop()

    def _logout(self) -> None:
        data = self._json_body()
        token = data.get("refreshToken", data.get("refresh_token")) if isinstance(data, dict) else None
        self.state.logout(token)
        self._send(204)

    # -- test knobs ----------------------------------------------------------------------

    def _admin(self, what: str) -> None:
        data = self._json_body() or {}
        if what == "config":
            settings = self.state.settings
            for key, value in data.items():
                if hasattr(settings, key):
                    setattr(settings, key, value)
            return self._json(200, vars(settings))
        if what == "fault":
            with self.state.lock:
                self.state.faults.append(dict(data))
            return self._json(200, {"faults": len(self.state.faults)})
        if what == "clear-faults":
            with self.state.lock:
                self.state.faults.clear()
            return self._json(200, {"faults": 0})
        if what == "revoke-access":
            self.state.revoke_access()
            return self._json(200, {"revoked": True})
        return self._json(404, {"error": "not_found"})

    # -- the protected API -----------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict[str, list[str]], claims: dict[str, Any]) -> None:
        if path == "/users/me":
            user = DEMO_USERS.get(claims.get("email", ""))
            if user is None:  # an OAuth client, or an exchanged subject that is no demo user
                return self._json(200, {"id": claims["sub"], "email": claims.get("email"), "name": claims["sub"]})
            return self._json(200, {"id": user["id"], "email": claims["email"], "name": user["name"]})
        if path == "/items":
            return self._items(query)
        if path == "/echo":
            length, digest, body = self._body_digest()
            headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
            return self._json(200, {
                "method": method,
                "path": path,
                "query": {k: v if len(v) > 1 else v[0] for k, v in query.items()},
                "headers": headers,
                "body_length": length,
                "body_sha256": digest,
                "body": body.decode("utf-8", "replace") if length <= 4096 else None,
            })
        if path.startswith("/status/"):
            self._body()
            status = int(path.rsplit("/", 1)[1])
            redirect = {"Location": "/users/me"} if 300 <= status < 400 else None
            if status == 204:
                return self._send(204)
            return self._json(status, {"status": status}, headers=redirect)
        if path.startswith("/bytes/"):
            return self._bytes(int(path.rsplit("/", 1)[1]))
        if path == "/redirect":
            target = query.get("to", ["/users/me"])[0]
            return self._send(int(query.get("status", ["302"])[0]), b"", headers={"Location": target})
        if path == "/loop":
            return self._send(302, b"", headers={"Location": "/loop"})
        if path == "/slow":
            time.sleep(float(query.get("seconds", ["2"])[0]))
            return self._json(200, {"slow": True})
        if path == "/drip":
            return self._drip(int(query.get("bytes", ["1048576"])[0]), float(query.get("delay", ["0.1"])[0]))
        if path == "/flaky":
            if self.state.take_fault("flaky") is not None:
                return self._json(429, {"error": "rate_limited"}, headers={"Retry-After": "1"})
            return self._json(200, {"flaky": "ok"})
        return self._json(404, {"error": "not_found", "message": f"no route {method} {path}"})

    def _items(self, query: dict[str, list[str]]) -> None:
        """Paginated with RFC 8288 Link headers; ?fail_page=N answers page N with a 500."""
        page = int(query.get("page", ["1"])[0])
        fail_page = query.get("fail_page", [""])[0]
        if str(page) == fail_page:
            return self._json(500, {"error": "server_error", "message": f"page {page} failed"})
        start = (page - 1) * PAGE_SIZE
        items = [{"id": i, "name": f"item {i}"} for i in range(start + 1, min(start + PAGE_SIZE, ITEM_COUNT) + 1)]
        headers = {}
        if start + PAGE_SIZE < ITEM_COUNT:
            extra = f"&fail_page={fail_page}" if fail_page else ""
            headers["Link"] = f'</items?page={page + 1}{extra}>; rel="next"'
        self._json(200, items, headers=headers)

    def _drip(self, size: int, delay: float) -> None:
        """``size`` bytes in 64 KiB pieces with a pause between them: a download to interrupt."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        left = size
        try:
            while left > 0:
                piece = min(left, 65536)
                self.wfile.write(b"x" * piece)
                self.wfile.flush()
                left -= piece
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _bytes(self, size: int) -> None:
        """``size`` deterministic bytes (every byte value occurs), streamed."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = bytes(range(256)) * 256
        left = size
        while left > 0:
            chunk = block[: min(left, len(block))]
            self.wfile.write(chunk)
            left -= len(chunk)


def serve(port: int, settings: Settings, out: Any = None, tls: tuple[str, str] | None = None) -> None:
    """Run until interrupted; prints the URL once the socket is listening."""
    out = out or sys.stdout
    server = DevServer(port, State(settings=settings), tls)
    out.write(f"{server.url}\n")
    out.flush()
    users = ", ".join(f"{email} / {u['password']}" for email, u in DEMO_USERS.items())
    sys.stderr.write(
        f"authcli dev-server on {server.url} (access tokens live {settings.access_ttl:g}s); demo users: {users}\n"
    )
    sys.stderr.flush()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    finally:
        server.shutdown()
        server.server_close()
