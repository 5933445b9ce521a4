"""A tiny protected API for the OAuth tests: it trusts nothing authcli says and asks the
authorization server about every bearer token (token introspection, RFC 7662).

    python tests/servers/resource_api.py --introspection-endpoint URL --client-id ID --client-secret SECRET

Prints one JSON line once listening: {"url"}. GET /me answers 200 with the introspected
{"sub", "username", "client_id", "scope"} for an active token, 401 for anything else. Not part of authcli:
a test fixture.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    server: Api

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: dict[str, Any], **headers: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/me":
            self.send_json(404, {"error": "not_found"})
            return
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        answer = self.server.introspect(token) if scheme.lower() == "bearer" and token else {"active": False}
        if not answer.get("active"):
            self.send_json(401, {"error": "invalid_token"}, WWW_Authenticate='Bearer error="invalid_token"')
            return
        self.send_json(200, {k: answer.get(k) for k in ("sub", "username", "client_id", "scope")})


class Api(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: str, client_id: str, client_secret: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.endpoint = endpoint
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
        self.basic = "Basic " + base64.b64encode(pair.encode()).decode()

    def introspect(self, token: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoint, data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Authorization": self.basic, "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        return answer if isinstance(answer, dict) else {"active": False}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--introspection-endpoint", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    args = parser.parse_args()
    api = Api(args.introspection_endpoint, args.client_id, args.client_secret)
    print(json.dumps({"url": f"http://127.0.0.1:{api.server_address[1]}"}), flush=True)
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
