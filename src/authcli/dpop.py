"""DPoP (RFC 9449): the session's tokens bound to a key pair only this profile holds.

At login an ES256 key pair is made for the profile; its private half is kept in the token
record, in the same store as the tokens and deleted with them. Every token-endpoint request
and every API request then carries a proof: a JWT signed with that key, naming the method
and URL (and, towards the API, a hash of the access token). A copied access or refresh token
is useless without the key.

Servers may ask for a nonce (`use_dpop_nonce`, with a `DPoP-Nonce` header): the request is
retried once with it, and the latest nonce of each origin is kept for the process's next
requests (in memory only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from typing import Any

from .urls import origin_str

ALG = "ES256"
_nonces: dict[str, str] = {}
_lock = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> str:
    """A fresh P-256 private key, PEM (PKCS #8), for the record."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class Prover:
    """Proofs signed with one profile's key."""

    def __init__(self, private_pem: str) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the DPoP key is not an EC key")
        self._key = key
        numbers = key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x.to_bytes(32, "big")),
                    "y": _b64(numbers.y.to_bytes(32, "big"))}

    @property
    def thumbprint(self) -> str:
        """RFC 7638: what servers put in `cnf.jkt` and what whoami shows."""
        canonical = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        return _b64(hashlib.sha256(canonical).digest())

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        import jwt

        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method.upper(), "htu": htu(url),
                                  "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode()).digest())
        nonce = nonce_for(url)
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._key, algorithm=ALG, headers={"typ": "dpop+jwt", "jwk": self.jwk})


_provers: dict[str, Prover] = {}


def prover(private_pem: str) -> Prover:
    """One Prover per key for the process (loading a key is not free; proofs are per request)."""
    with _lock:
        found = _provers.get(private_pem)
        if found is None:
            found = _provers[private_pem] = Prover(private_pem)
        return found


def htu(url: str) -> str:
    """The proof's URL: without query and fragment (RFC 9449 4.2)."""
    return url.split("#", 1)[0].split("?", 1)[0]


def nonce_for(url: str) -> str | None:
    with _lock:
        return _nonces.get(origin_str(url))


def remember_nonce(url: str, headers: Any) -> bool:
    """Keep the server's DPoP-Nonce, if it sent one; True when it was new (worth a retry)."""
    nonce = headers.get("dpop-nonce")
    if not nonce:
        return False
    with _lock:
        old = _nonces.get(origin_str(url))
        _nonces[origin_str(url)] = nonce
    return bool(old != nonce)


def asks_for_nonce(status: int, headers: Any, body: Any) -> bool:
    """A token endpoint's 400 `use_dpop_nonce`, or an API's 401 saying so in WWW-Authenticate."""
    if status == 400 and isinstance(body, dict) and body.get("error") == "use_dpop_nonce":
        return True
    return status == 401 and 'error="use_dpop_nonce"' in headers.get("www-authenticate", "")
