"""idpyoidc (PyPI, the Identity Python project's OAuth 2.0 / OpenID Connect server) as an
independent implementation of RFC 8693 token exchange for the tests, behind a small WSGI
wrapper on loopback.

    python tests/servers/idpy_exchange.py

Prints one JSON line once listening: {"url", "clients"}. Two clients: "workload", whose access
tokens stand for what the CI platform or the cluster hands a job, and "authcli"
(client_secret_basic), which exchanges such a token for one of its own. Besides idpyoidc's
/.well-known/oauth-authorization-server and /token it serves, for the tests only:
  GET /_stats            token answers counted as "<grant_type>:<status>"
  GET /_subjects         the SHA-256 of every subject token presented, in order
  GET /_admin/ttl?access=S  the lifetime of the workload's tokens minted from now on (idpyoidc
                         answers an exchange with the subject token's expires_in)
  GET /_admin/subject    {"token"}: a new access token of the workload's, to exchange
Not part of authcli: a test fixture.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from collections import Counter
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
CLIENTS = {"workload": "workload-secret-5d1e", "authcli": "authcli-secret-20c7"}
RULES = {"supports_minting": ["access_token"]}


def make_server_app(issuer: str, workdir: str) -> Any:
    from idpyoidc.server import Server
    from idpyoidc.server.authz import AuthzHandling
    from idpyoidc.server.client_authn import verify_client
    from idpyoidc.server.configure import ASConfiguration

    conf = {
        "issuer": issuer,
        "httpc_params": {"verify": False, "timeout": 1},
        "keys": {"uri_path": "jwks.json", "key_defs": [{"type": "EC", "crv": "P-256", "use": ["sig"]}],
                 "private_path": os.path.join(workdir, "jwks.json")},
        "endpoint": {
            "metadata": {"path": ".well-known/oauth-authorization-server",
                         "class": "idpyoidc.server.oauth2.server_metadata.ServerMetadata", "kwargs": {}},
            "token": {
                "path": "token",
                "class": "idpyoidc.server.oauth2.token.Token",
                "kwargs": {
                    "client_authn_method": ["client_secret_basic", "client_secret_post"],
                    "grant_types_helpers": {
                        "client_credentials": {
                            "class": "idpyoidc.server.oauth2.token_helper.client_credentials.ClientCredentials"},
                        EXCHANGE: {
                            "class": "idpyoidc.server.oauth2.token_helper.token_exchange.TokenExchangeHelper",
                            "kwargs": {
                                "subject_token_types_supported": ["urn:ietf:params:oauth:token-type:access_token"],
                                "requested_token_types_supported": ["urn:ietf:params:oauth:token-type:access_token"],
                                "default_requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                                "policy": {"": {
                                    "function": "idpyoidc.server.oauth2.token_helper.validate_token_exchange_policy",
                                    "kwargs": {"scope": ["api"]}}},
                            },
                        },
                    },
                },
            },
        },
        "authentication": {"anon": {"acr": "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
                                    "class": "idpyoidc.server.user_authn.user.NoAuthn", "kwargs": {"user": "ci"}}},
        "userinfo": {"class": "idpyoidc.server.user_info.UserInfo",
                     "kwargs": {"db": {"ci": {"sub": "ci", "email": "ci@example.com", "name": "CI job"}}}},
        "client_authn": verify_client,
        "authz": {"class": AuthzHandling, "kwargs": {"grant_config": {
            "usage_rules": {"access_token": RULES}, "expires_in": 43200}}},
        "token_handler_args": {
            "jwks_def": {"private_path": os.path.join(workdir, "token_jwks.json"),
                         "key_defs": [{"type": "oct", "bytes": "24", "use": ["enc"], "kid": "code"}],
                         "read_only": False},
            "code": {"lifetime": 600, "kwargs": {"crypt_conf": {"kwargs": {"keys": {"key_defs": [
                {"type": "OCT", "use": ["enc"], "kid": "password"},
                {"type": "OCT", "use": ["enc"], "kid": "salt"}]}}}}},
            "token": {"class": "idpyoidc.server.token.jwt_token.JWTToken",
                      "kwargs": {"lifetime": 300, "aud": ["https://api.example.test"]}},
        },
        "session_params": {"encrypter": {"kwargs": {"keys": {"key_defs": [
            {"type": "OCT", "use": ["enc"], "kid": "password"},
            {"type": "OCT", "use": ["enc"], "kid": "salt"}]}, "iterations": 1}}},
    }
    server = Server(ASConfiguration(conf=conf, base_path=workdir), cwd=workdir)
    context = server.context
    context.map_supported_to_preferred()
    for client_id, secret in CLIENTS.items():
        context.cdb[client_id] = {
            "client_id": client_id, "client_secret": secret, "client_salt": "salt-" + client_id,
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types_supported": ["client_credentials"] if client_id == "workload" else [EXCHANGE],
            "allowed_scopes": ["api"], "redirect_uris": [],
        }
    return server


def mint_subject(server: Any) -> str:
    """A new access token of the workload's own, in a new grant: what the CI platform or the
    cluster hands the job. (idpyoidc's client-credentials helper cannot do it twice for one
    client, and makes grants whose tokens may not be exchanged; the exchange itself is all
    idpyoidc's.)"""
    context = server.context
    manager = context.session_manager
    lifetime = manager.token_handler["access_token"].lifetime
    rules = {"access_token": {**RULES, "expires_in": lifetime}}  # the grant's record expires with the JWT
    branch = manager.add_grant(["ci", "workload"], token_usage_rules=rules, scope=["api"])
    grant = manager.get_session_info(branch, grant=True)["grant"]
    helper = server.get_endpoint("token").grant_type_helper["client_credentials"]
    return str(helper._mint_token(token_class="access_token", grant=grant, session_id=branch, client_id="workload",
                                  scope=["api"], token_type="Bearer").value)


class App:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.stats: Counter[str] = Counter()
        self.subjects: list[str] = []
        self.lock = threading.Lock()

    def _json(self, start: Any, status: str, body: Any, headers: list[tuple[str, str]] | None = None) -> list[bytes]:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])])
        return [data]

    def __call__(self, environ: dict[str, Any], start: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_stats":
            with self.lock:
                return self._json(start, "200 OK", dict(self.stats))
        if path == "/_subjects":
            with self.lock:
                return self._json(start, "200 OK", list(self.subjects))
        if path == "/_admin/ttl":
            query = {k: int(v[0]) for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            if "access" in query:
                self.server.context.session_manager.token_handler["access_token"].lifetime = query["access"]
            return self._json(start, "200 OK", query)
        if path == "/_admin/subject":
            with self.lock:
                return self._json(start, "200 OK", {"token": mint_subject(self.server)})
        if path == "/.well-known/oauth-authorization-server":
            endpoint = self.server.get_endpoint("server_metadata")
            args = endpoint.process_request()
            return self._json(start, "200 OK", endpoint.do_response(**args)["response"])
        if path == "/token" and environ["REQUEST_METHOD"] == "POST":
            return self._token(environ, start)
        return self._json(start, "404 Not Found", {"error": "not_found"})

    def _token(self, environ: dict[str, Any], start: Any) -> list[bytes]:
        from idpyoidc.message.oidc import TokenErrorResponse
        from idpyoidc.server.exception import ToOld

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        grant = form.get("grant_type", "")
        if grant == EXCHANGE and "subject_token" in form:
            with self.lock:
                self.subjects.append(hashlib.sha256(form["subject_token"].encode()).hexdigest())
        endpoint = self.server.get_endpoint("token")
        http_info = {"headers": {"authorization": environ.get("HTTP_AUTHORIZATION", "")},
                     "url": "/token", "method": "POST"}
        with self.lock:  # idpyoidc's session manager is not made for threads
            try:
                request = endpoint.parse_request(dict(form), http_info=http_info)
            except ToOld:
                # idpyoidc's own answer to an expired subject token (TokenExchangeHelper.
                # process_request), which its post_parse_request lets escape as a 500.
                request = TokenErrorResponse(error="invalid_request", error_description="Subject token has expired")
            result = request if "error" in request else endpoint.process_request(request)
            if hasattr(result, "to_dict"):
                result = result.to_dict()
            if "error" in result:
                error = result["error"]
                answer = error.to_dict() if hasattr(error, "to_dict") else result
                status = 401 if answer.get("error") == "invalid_client" else 400
            else:
                answer, status = json.loads(endpoint.do_response(request=request, **result)["response"]), 200
            self.stats[f"{grant}:{status}"] += 1
        return self._json(start, f"{status} {'OK' if status == 200 else 'Error'}", answer,
                          [("Cache-Control", "no-store")])


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    issuer = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="idpy-")
    app = App(make_server_app(issuer, workdir))
    httpd = make_server("127.0.0.1", port, app, server_class=_Threading, handler_class=_Quiet)
    sys.stdout.write(json.dumps({"url": issuer, "clients": CLIENTS}) + "\n")
    sys.stdout.flush()
    httpd.serve_forever()


if __name__ == "__main__":
    main()
