"""A tiny protected API for the OAuth tests: it trusts nothing authcli says and asks the
authorization server about every bearer token (token introspection, RFC 7662).

    python tests/servers/resource_api.py --introspection-endpoint URL --client-id ID --client-secret SECRET

Prints one JSON line once listening: {"url"}. GET /me answers 200 with the introspected
{"sub", "username", "client_id", "scope"} for an active token, 401 for anything else. Not part of authcli:
a test fixture.

A DPoP-bound token (introspection names `cnf.jkt`) is accepted only as `Authorization: DPoP`
with a proof a resource server checks (RFC 9449 7.1): typ dpop+jwt, ES256, signed by the
`jwk` in its header, whose thumbprint is the token's `cnf.jkt`; `htm` and `htu` this request;
`ath` the token's hash; `iat` within a minute; a `jti` not seen before. With
--require-dpop-nonce a proof must also carry the API's nonce (first answer: 401
`WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce` header). GET /_stats
counts DPoP refusals by reason. With --nonce-never-satisfied every DPoP request is answered
with a new nonce challenge (an API whose nonces rotate faster than a client can use them).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import threading
import time
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
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_stats":
            self.send_json(200, dict(self.server.stats))
            return
        if path != "/me":
            self.send_json(404, {"error": "not_found"})
            return
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        answer = self.server.introspect(token) if scheme.lower() in ("bearer", "dpop") and token else {"active": False}
        if not answer.get("active"):
            self.send_json(401, {"error": "invalid_token"}, WWW_Authenticate='Bearer error="invalid_token"')
            return
        jkt = (answer.get("cnf") or {}).get("jkt")
        if jkt or scheme.lower() == "dpop":
            refusal = self.dpop_refusal(scheme, token, jkt)
            if refusal is not None:
                self.server.count(refusal)
                if refusal == "use_dpop_nonce":
                    self.send_json(401, {"error": refusal}, WWW_Authenticate='DPoP error="use_dpop_nonce"',
                                   DPoP_Nonce=self.server.nonce)
                    return
                self.send_json(401, {"error": "invalid_token", "reason": refusal},
                               WWW_Authenticate='DPoP error="invalid_token"')
                return
        self.send_json(200, {k: answer.get(k) for k in ("sub", "username", "client_id", "scope")})

    def dpop_refusal(self, scheme: str, token: str, jkt: str | None) -> str | None:
        import jwt

        if scheme.lower() != "dpop" or not jkt:
            return "dpop_scheme"  # a bound token as Bearer, or a DPoP scheme for an unbound one
        proof = self.headers.get("DPoP") or ""
        try:
            header = jwt.get_unverified_header(proof)
            if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
                return "proof_header"
            if thumbprint(header.get("jwk") or {}) != jkt:
                return "wrong_key"
            claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=["ES256"])
        except (jwt.PyJWTError, KeyError, ValueError):
            return "proof_signature"
        host = self.headers.get("Host")
        if claims.get("htm") != self.command or claims.get("htu") != f"http://{host}{self.path.split('?')[0]}":
            return "htm_htu"
        if claims.get("ath") != b64(hashlib.sha256(token.encode()).digest()):
            return "ath"
        if abs(time.time() - float(claims.get("iat", 0))) > 60:
            return "iat"
        with self.server.lock:
            if claims.get("jti") in self.server.seen_jti:
                return "jti_replayed"
            self.server.seen_jti.add(claims.get("jti"))
        if self.server.require_nonce and claims.get("nonce") != self.server.nonce:
            return "use_dpop_nonce"
        if self.server.nonce_never_satisfied:
            self.server.nonce = b64(hashlib.sha256(self.server.nonce.encode()).digest())[:22]
            return "use_dpop_nonce"
        return None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    members = {k: jwk.get(k) for k in ("crv", "kty", "x", "y")}
    return b64(hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest())


class Api(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: str, client_id: str, client_secret: str, require_nonce: bool = False,
                 nonce_never_satisfied: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.endpoint = endpoint
        self.require_nonce = require_nonce
        self.nonce_never_satisfied = nonce_never_satisfied
        self.nonce = b64(hashlib.sha256(repr(time.time()).encode()).digest())[:22]
        self.lock = threading.Lock()
        self.seen_jti: set[Any] = set()
        self.stats: dict[str, int] = {}
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
        self.basic = "Basic " + base64.b64encode(pair.encode()).decode()

    def count(self, key: str) -> None:
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

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
    parser.add_argument("--require-dpop-nonce", action="store_true")
    parser.add_argument("--nonce-never-satisfied", action="store_true")
    args = parser.parse_args()
    api = Api(args.introspection_endpoint, args.client_id, args.client_secret, args.require_dpop_nonce,
              args.nonce_never_satisfied)
    print(json.dumps({"url": f"http://127.0.0.1:{api.server_address[1]}"}), flush=True)
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
