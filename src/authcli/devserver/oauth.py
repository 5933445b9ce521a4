"""The dev server's OAuth token endpoint (POST /oauth/token) and its discovery document, so that
the real authcli can be tested with client credentials and token exchange (RFC 8693) and with
client authentication by a JWT (RFC 7523): a secret, a private_key_jwt signed with a key the
test registers (JWKS or PEM), or a federated assertion from a "CI issuer" the test trusts.

Configured through POST /_admin/config (Settings.clients, subject_jwks, auth_methods,
grant_types, exchange_delay). Checks made: the assertion's signature, exp (required, in the
future), aud (the token endpoint or the issuer, unless the client names another), iss and sub
(the client ID, unless the client names them), and a jti never seen before (replays refused).
Every request is counted (/_stats) and recorded without its tokens (GET /_token_requests).
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs, unquote

from .state import Rejected, State

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ALGORITHMS = ["RS256", "ES256", "ES384"]


def metadata(base: str, state: State) -> dict[str, Any]:
    settings = state.settings
    return {
        "issuer": base,
        "token_endpoint": base + "/oauth/token",
        "grant_types_supported": settings.grant_types or ["client_credentials", EXCHANGE],
        "token_endpoint_auth_methods_supported": settings.auth_methods
        or ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
    }


def _keys(spec: dict[str, Any]) -> list[Any]:
    """A client's (or the subject issuer's) public keys: {"jwks": {...}} or {"public_key": PEM}."""
    import jwt

    if spec.get("public_key"):
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        return [load_pem_public_key(spec["public_key"].encode())]
    if spec.get("jwks"):
        return [key.key for key in jwt.PyJWKSet.from_dict(spec["jwks"]).keys]
    return []


def verify_jwt(token: str, spec: dict[str, Any], audiences: list[str], now: float) -> dict[str, Any]:
    """The claims of ``token`` if one of ``spec``'s keys signed it and it has not expired
    (on the server's own, possibly skewed, clock); ValueError saying why not."""
    import jwt

    keys = _keys(spec)
    if not keys:
        raise ValueError("no keys registered")
    last: Exception | None = None
    for key in keys:
        try:
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=audiences or None,
                                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                         "verify_aud": bool(audiences), "require": ["exp"]})
            break
        except jwt.InvalidSignatureError as exc:
            last = exc
        except jwt.PyJWTError as exc:
            raise ValueError(str(exc)) from None
    else:
        raise ValueError(f"bad signature ({last})")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise ValueError("expired")
    return claims


class TokenDesk:
    """What POST /oauth/token does; the Handler only parses and answers."""

    def __init__(self, state: State, base: str) -> None:
        self.state = state
        self.base = base

    def answer(self, body: bytes, authorization: str) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type", "")
        record: dict[str, Any] = {"grant_type": grant}
        self.state.count("token_requests")
        try:
            client = self._client(form, authorization, record)
            if grant == "client_credentials":
                if client is None:
                    raise Rejected(401, "invalid_client", "client credentials need an authenticated client")
                self.state.count("client_credentials")
                body_out = self.state.issue_oauth(client, None)
            elif grant == EXCHANGE:
                body_out = self._exchange(form, client, record)
            else:
                raise Rejected(400, "unsupported_grant_type", f"grant_type {grant!r} is not served here")
            record["status"] = 200
            return 200, body_out
        except Rejected as exc:
            record["status"] = exc.status
            record["error"] = exc.body["error"]
            return exc.status, {"error": exc.body["error"], "error_description": exc.body["message"]}
        finally:
            with self.state.lock:
                self.state.token_requests.append(record)

    # -- client authentication ------------------------------------------------------------

    def _client(self, form: dict[str, str], authorization: str, record: dict[str, Any]) -> str | None:
        """The authenticated client's ID, or None for an unauthenticated request."""
        clients: dict[str, dict[str, Any]] = self.state.settings.clients
        if authorization.startswith("Basic "):
            record["client_auth"] = "client_secret_basic"
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            return self._secret(unquote(client_id), unquote(secret), clients)
        if "client_secret" in form:
            record["client_auth"] = "client_secret_post"
            return self._secret(form.get("client_id", ""), form["client_secret"], clients)
        if "client_assertion" in form:
            return self._assertion(form, clients, record)
        named = form.get("client_id")
        record["client_auth"] = "none"
        if named and clients.get(named, {}).get("public"):
            return named
        if named:
            self._fail("unauthenticated confidential client", record)
        return None

    def _secret(self, client_id: str, secret: str, clients: dict[str, dict[str, Any]]) -> str:
        client = clients.get(client_id)
        if client is None or not client.get("secret") or client["secret"] != secret:
            self.state.count("client_auth_failures")
            raise Rejected(401, "invalid_client", "bad client secret")
        return client_id

    def _fail(self, why: str, record: dict[str, Any]) -> None:
        self.state.count("client_auth_failures")
        record["client_auth_error"] = why
        raise Rejected(401, "invalid_client", f"client authentication failed: {why}")

    def _assertion(self, form: dict[str, str], clients: dict[str, dict[str, Any]], record: dict[str, Any]) -> str:
        import jwt

        record["client_auth"] = "jwt"
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            self._fail("client_assertion_type is not jwt-bearer", record)
        token = form["client_assertion"]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            self._fail("the assertion is not a JWT", record)
            raise AssertionError from None  # unreachable: _fail raised
        record["assertion"] = {k: unverified.get(k) for k in ("iss", "sub", "aud", "jti")}
        # The client: the form's client_id, else the one whose expected subject the assertion names.
        client_id = form.get("client_id") or next(
            (cid for cid, c in clients.items() if c.get("subject", cid) == unverified.get("sub")), "")
        client = clients.get(client_id)
        if client is None:
            self._fail(f"unknown client {client_id!r}", record)
            raise AssertionError
        audiences = [client["audience"]] if client.get("audience") else [self.base + "/oauth/token", self.base]
        try:
            claims = verify_jwt(token, client, audiences, self.state.now())
        except ValueError as exc:
            self._fail(f"assertion rejected: {exc}", record)
            raise AssertionError from None
        if claims.get("iss") != client.get("issuer", client_id) or claims.get("sub") != client.get("subject", client_id):
            self._fail("iss or sub is not the client's", record)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            self._fail("no jti", record)
        with self.state.lock:
            replayed = jti in self.state.seen_jtis
            self.state.seen_jtis.add(str(jti))
        if replayed:
            self.state.count("assertion_replays")
            self._fail("jti replayed", record)
        self.state.count("client_assertions")
        return client_id

    # -- token exchange -----------------------------------------------------------------------

    def _exchange(self, form: dict[str, str], client: str | None, record: dict[str, Any]) -> dict[str, Any]:
        settings = self.state.settings
        self.state.count("exchange_requests")
        if "subject_token" not in form or "subject_token_type" not in form:
            raise Rejected(400, "invalid_request", "subject_token and subject_token_type are required")
        record["subject_token_type"] = form["subject_token_type"]
        for name in ("audience", "resource", "scope", "requested_token_type"):
            if name in form:
                record[name] = form[name]
        subject = self._verified(form["subject_token"], "subject", record)
        if "actor_token" in form:
            self._verified(form["actor_token"], "actor", record)
            record["actor_token_type"] = form.get("actor_token_type")
        self.state.count("token_exchanges")
        body = self.state.issue_oauth(str(subject.get("sub")), subject.get("email"),
                                      issued_token_type=ACCESS_TOKEN_TYPE)
        if settings.exchange_delay:
            # Processed at once, answered late: the window in which siblings could exchange too.
            time.sleep(settings.exchange_delay)
        return body

    def _verified(self, token: str, role: str, record: dict[str, Any]) -> dict[str, Any]:
        import jwt

        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            self.state.count("exchange_rejections")
            raise Rejected(400, "invalid_request", f"the {role} token is not a JWT") from None
        record[role] = {k: unverified.get(k) for k in ("iss", "sub", "jti", "email")}
        spec = self.state.settings.subject_jwks
        try:
            claims = verify_jwt(token, {"jwks": spec} if spec else {}, [], self.state.now())
        except ValueError as exc:
            self.state.count("exchange_rejections")
            raise Rejected(400, "invalid_request", f"the {role} token is not acceptable: {exc}") from None
        return claims
