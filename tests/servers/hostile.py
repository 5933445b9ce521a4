"""A hostile login API for the hardening tests: it speaks authcli's JSON protocol
(POST /auth/login, /auth/refresh, GET /users/me) but answers the way a broken or malicious
server might. Not part of authcli: a test fixture.

    python tests/servers/hostile.py

Prints one JSON line once listening: {"url"}. POST /_mode {"login": NAME, "refresh": NAME,
"me": NAME} chooses each endpoint's answer (BEHAVIOURS below); GET /_stats counts requests.
"""

from __future__ import annotations

import json
import secrets
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GIB = 1 << 30


def _gzip_bomb(size: int = 2 * GIB) -> bytes:
    """A valid gzip stream of ``size`` zero bytes, about 2 MB for 2 GiB, built in a second:
    after a full flush the compressor's output for the same 1 MiB depends on nothing before
    it, so one compressed megabyte is repeated and the trailer computed."""
    chunk = b"\0" * (1 << 20)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = squeeze.compress(chunk) + squeeze.flush(zlib.Z_FULL_FLUSH)
    repeat = squeeze.compress(chunk) + squeeze.flush(zlib.Z_FULL_FLUSH)
    ending = squeeze.flush(zlib.Z_FINISH)[:-8]
    count = size // len(chunk)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return first + repeat * (count - 1) + ending + struct.pack("<II", crc, size & 0xFFFFFFFF)


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT nobody signed (alg none): whoami shows its claims, never trusting them."""
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def tokens(**fields: Any) -> dict[str, Any]:
    body = {"accessToken": "at-" + secrets.token_hex(8), "refreshToken": "rt-" + secrets.token_hex(8),
            "expiresIn": 300}
    body.update(fields)
    return body


# name -> how the endpoint answers. A JSON value is sent as it is (NaN and Infinity as the
# literals Python writes); "drip", "drip-headers", "bomb" and "huge" are behaviours.
BEHAVIOURS: dict[str, Any] = {
    "ok": lambda: tokens(),
    "short": lambda: tokens(expiresIn=1),
    "brief": lambda: tokens(expiresIn=4),
    "nan": lambda: tokens(expiresIn=float("nan")),
    "infinity": lambda: tokens(expiresIn=float("inf")),
    "huge-lifetime": lambda: tokens(expiresIn=1e300),
    "negative": lambda: tokens(expiresIn=-60),
    "crlf-access": lambda: tokens(accessToken="at-secret\r\nX-Injected: yes"),
    "space-access": lambda: tokens(accessToken="at secret"),
    "nul-refresh": lambda: tokens(refreshToken="rt-secret\x00tail"),
    "lf-refresh": lambda: tokens(refreshToken="rt-secret\nX-Injected: yes"),
    "access-not-string": lambda: tokens(accessToken=12345),
    "lifetime-not-number": lambda: tokens(expiresIn="soon"),
    "list": lambda: [tokens()],
    "escape-claims": lambda: tokens(accessToken=unsigned_jwt({
        "sub": "u-eve", "email": "eve@example.com", "name": "Eve \x1b]0;pwned\x07\x1b[2J\x1b[31mRed",
        "iat": int(time.time()), "exp": int(time.time()) + 300})),
    "impossible-times": lambda: tokens(id_token=unsigned_jwt({"sub": "u-eve", "exp": 1e300, "iat": -1e300,
                                                              "auth_time": 253402300800})),
    "me": lambda: {"email": "alice@example.com", "name": "Alice \x1b[31mRed\x1b[0m\x07"},
}


class Handler(BaseHTTPRequestHandler):
    server: Hostile
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, name: str) -> None:
        if name == "drip":  # headers at once, then one byte every 0.3 s for a minute
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "200")
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.3)
            return
        if name == "drip-headers":  # the status line and headers themselves, a byte at a time
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n{}"
            for byte in head:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
            return
        if name == "bomb":
            self._send(200, self.server.bomb(), {"Content-Encoding": "gzip"})
            return
        if name == "huge":  # 64 MiB of JSON whitespace, plainly
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(64 << 20))
            self.end_headers()
            block = b" " * (1 << 20)
            for _ in range(64):
                self.wfile.write(block)
            return
        self._send(200, json.dumps(BEHAVIOURS[name]()).encode())

    def do_GET(self) -> None:
        if self.path == "/_stats":
            self._send(200, json.dumps(self.server.stats).encode())
            return
        self.server.count("me")
        self._answer(self.server.modes.get("me", "me"))

    def do_POST(self) -> None:
        body = self._read()
        if self.path == "/_mode":
            self.server.modes.update(json.loads(body))
            self._send(200, b"{}")
            return
        endpoint = {"/auth/login": "login", "/auth/refresh": "refresh", "/auth/logout": "logout"}.get(self.path)
        if endpoint is None:
            self._send(404, b'{"message": "not found"}')
            return
        self.server.count(endpoint)
        if endpoint == "logout":
            self._send(204, b"")
            return
        try:
            self._answer(self.server.modes.get(endpoint, "ok"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # authcli gave up, as it should


class Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.modes: dict[str, str] = {}
        self.stats: dict[str, int] = {}
        self._lock = threading.Lock()
        self._bomb: bytes | None = None
        self.bomb: Callable[[], bytes] = self._make_bomb

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.stats[endpoint] = self.stats.get(endpoint, 0) + 1

    def _make_bomb(self) -> bytes:
        with self._lock:
            if self._bomb is None:
                self._bomb = _gzip_bomb()
            return self._bomb


def main() -> None:
    server = Hostile()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
