"""A test "CI issuer": the signing key a CI system or a Kubernetes cluster would hold, its JWKS
for the authorization server to trust, and workload tokens minted with it. Also client key
pairs for private_key_jwt. Not part of authcli: a test fixture."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _ec() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Issuer:
    iss: str = "https://ci.example.test"
    kid: str = field(default_factory=lambda: "ci-" + secrets.token_hex(4))
    key: Any = field(default_factory=_ec)

    def jwks(self) -> dict[str, Any]:
        import jwt

        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def mint(self, lifetime: float = 600, **claims: Any) -> str:
        """A workload token: a fresh jti each time, valid ``lifetime`` seconds (negative: expired)."""
        import jwt

        now = int(time.time())
        body = {"iss": self.iss, "sub": "system:serviceaccount:ci:deployer", "aud": "authcli-test",
                "iat": now, "exp": int(now + lifetime), "jti": secrets.token_hex(8), **claims}
        return jwt.encode(body, self.key, algorithm="ES256", headers={"kid": self.kid})


    def write_key(self, path: Path, mode: int = 0o600) -> Path:
        """The private key, PEM, for authcli to sign with (private_key_jwt)."""
        from cryptography.hazmat.primitives import serialization

        return write_secret(path, self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()), mode)


class JwksServer:
    """A CI issuer's JWKS on loopback (GET /jwks), for a provider that fetches client keys."""

    def __init__(self, *issuers: Issuer) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self
        self.keys: list[dict[str, Any]] = [k for issuer in issuers for k in issuer.jwks()["keys"]]
        self.fetches = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def jti_of(token: str) -> str:
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def write_secret(path: Path, text: str | bytes, mode: int = 0o600) -> Path:
    """``text`` into ``path``, created with ``mode`` from the start (a rotation replaces the file)."""
    data = text.encode() if isinstance(text, str) else text
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)  # as the kubelet swaps a projected token: a new file under the name
    return path


def client_key(path: Path, kind: str = "ec", mode: int = 0o600) -> str:
    """A new private key in ``path`` (PEM); returns the public key, PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa" else _ec()
    write_secret(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()), mode)
    return str(key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode())
