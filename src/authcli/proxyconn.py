"""The proxy's connections: who may open one, how many may be open, how long a head may take.

Before a thread is started for a connection, the accepting thread refuses one from another
local user (403, peercheck.py) and one beyond the cap (503), answering from the accepting
thread without reading the request. A request head must then be complete within the
Watchdog's deadline, or the connection is shut down: idle or trickling clients hold a
thread for that long at most, and no thread polls.
"""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any

from .oscalls import require_unix_sockets
from .peercheck import same_user
from .termsafe import printable

CHUNK = 64 * 1024


class Watchdog:
    """Shuts down a connection whose request head is not complete by its deadline, so its
    handler's read ends at once: one thread, asleep until the earliest deadline, never polling."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._due: dict[socket.socket, float] = {}
        self._wakes = math.inf  # when the thread wakes next
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket) -> None:
        with self._changed:
            due = self._due[sock] = time.monotonic() + self.seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="authcli-proxy-heads", daemon=True)
                self._thread.start()
            elif due < self._wakes:  # only when nothing else was armed: deadlines come in order
                self._changed.notify()

    def disarm(self, sock: socket.socket) -> bool:
        """False when the deadline has passed (the connection is being shut down)."""
        with self._changed:
            return self._due.pop(sock, None) is not None

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for sock in [sock for sock, due in self._due.items() if due <= now]:
                    del self._due[sock]
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                self._wakes = min(self._due.values(), default=math.inf)
                self._changed.wait(None if self._wakes == math.inf else self._wakes - now)


class _Guarded:
    """What the proxy's servers do beyond socketserver's: refuse another user's connections and
    those beyond the cap before a thread is started for them, and report errors in one line."""

    daemon_threads = True
    request_queue_size = 256  # 200 concurrent clients connect at once
    max_connections: int
    log: Callable[[str], None]
    _open = 0
    _open_lock = threading.Lock()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        try:
            other_user = same_user(request) is False
        except OSError:
            return False  # gone already
        if other_user:
            self.log("refused a connection from another user's process (403)")
            _turn_away(request, 403, "forbidden", "this proxy serves only the user who started it")
            return False
        with self._open_lock:
            full = self._open >= self.max_connections
            if not full:
                self._open += 1
        if full:
            self.log(f"refused a connection: {self.max_connections} are open (503)")
            _turn_away(request, 503, "too_many_connections", f"{self.max_connections} connections are open "
                       f"already (AUTHCLI_PROXY_MAX_CONNECTIONS); close some or try again later")
        return not full

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)  # type: ignore[misc]
        except BaseException:
            self._closed()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[misc]
        finally:
            self._closed()

    def _closed(self) -> None:
        with self._open_lock:
            self._open -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The proxy answers its own failures as JSON; a client that went away mid-answer is not news.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            sys.stderr.write(f"authcli: proxy: unexpected error ({type(exc).__name__}: {printable(str(exc))})\n")


def _turn_away(sock: socket.socket, status: int, error: str, message: str) -> None:
    """Answer a connection no handler will read, from the accepting thread: what the client
    sent already is drained first, or closing the socket would reset the connection."""
    body = json.dumps({"error": error, "message": f"authcli proxy: {message}"}).encode() + b"\n"
    reason = HTTPStatus(status).phrase
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n" \
           "Connection: close\r\n\r\n"
    with suppress(OSError):
        sock.setblocking(False)
        with suppress(BlockingIOError):
            while sock.recv(CHUNK):
                pass
        sock.send(head.encode() + body)


class TCPServer(_Guarded, ThreadingHTTPServer):
    pass


# The one platform branch outside oscalls.py: a class cannot have a base that may not exist.
if sys.platform == "win32":
    class UnixServer(_Guarded, ThreadingHTTPServer):
        """Never made: Python has no Unix sockets on Windows, so --socket is a usage error there."""

        def __init__(self, path: str, handler: Callable[..., Any]) -> None:
            require_unix_sockets()
            raise AssertionError("unreachable")
else:
    from socketserver import ThreadingUnixStreamServer

    class UnixServer(_Guarded, ThreadingUnixStreamServer):
        pass
