"""The loopback redirect of the authorization-code flow (RFC 8252 7.3): listen on 127.0.0.1,
take one redirect, show a short page, close."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import LoginFailed, UsageError

PAGE = (
    "<!doctype html><meta charset=utf-8><title>authcli</title>"
    "<body style='font-family:sans-serif;margin:3em'><h1>{title}</h1><p>{text}</p></body>"
)


class _Handler(BaseHTTPRequestHandler):
    server: _Listener

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        ok = "code" in params and params.get("state") == self.server.state
        title, text = ("Signed in", "You can close this tab and return to the terminal.") if ok else (
            "Sign-in failed", "Return to the terminal for details.")
        body = PAGE.format(title=title, text=text).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.result = params


class _Listener(HTTPServer):
    state: str
    result: dict[str, str] | None = None


class Loopback:
    def __init__(self, state: str, port: int = 0) -> None:
        try:
            self.server = _Listener(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port} for the redirect: {exc.strerror or exc}") from None
        self.server.state = state
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def wait(self, timeout: float) -> dict[str, str]:
        """The redirect's query parameters, once one arrived with the right state and a code."""
        deadline = time.monotonic() + timeout
        try:
            while self.server.result is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LoginFailed(f"login failed: no answer from the browser within {timeout:g}s; "
                                      "run authcli login again")
                self.server.timeout = min(left, 0.5)
                self.server.handle_request()
        finally:
            self.server.server_close()
        result = self.server.result
        if "error" in result:
            raise LoginFailed(f"login failed: {result.get('error_description') or result['error']}")
        if result.get("state") != self.server.state:
            raise LoginFailed("login failed: the redirect carried the wrong state (a forged or stale "
                              "sign-in); run authcli login again")
        if "code" not in result:
            raise LoginFailed("login failed: the redirect carried no authorization code")
        return result
