"""DPoP proofs (dpop.py) read back the way a server reads them."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest

from authcli import dpop


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def prover() -> dpop.Prover:
    return dpop.Prover(dpop.new_key())


@pytest.mark.parametrize(("method", "url", "token", "htu"), [
    ("post", "https://op.example.com/token", None, "https://op.example.com/token"),
    ("GET", "https://api.example.com/items?page=2#x", "at-1", "https://api.example.com/items"),
])
def test_a_proof_as_the_server_checks_it(prover: dpop.Prover, method: str, url: str, token: str | None,
                                         htu: str) -> None:
    proof = prover.proof(method, url, token)
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256" and "d" not in header["jwk"]
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=["ES256"])
    assert claims["htm"] == method.upper() and claims["htu"] == htu and claims["jti"]
    assert claims.get("ath") == (b64(hashlib.sha256(token.encode()).digest()) if token else None)


def test_the_thumbprint_is_rfc_7638(prover: dpop.Prover) -> None:
    members = json.dumps({k: prover.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    assert prover.thumbprint == b64(hashlib.sha256(members.encode()).digest())


def test_every_proof_is_new(prover: dpop.Prover) -> None:
    assert prover.proof("GET", "https://a.example/x") != prover.proof("GET", "https://a.example/x")


def test_nonces_are_kept_per_origin() -> None:
    assert dpop.remember_nonce("https://n.example/token", {"dpop-nonce": "n1"}) is True
    assert dpop.remember_nonce("https://n.example/other", {"dpop-nonce": "n1"}) is False  # not new: no retry
    assert dpop.nonce_for("https://n.example/anything") == "n1" and dpop.nonce_for("https://m.example/") is None
    assert dpop.asks_for_nonce(400, {}, {"error": "use_dpop_nonce"})
    assert dpop.asks_for_nonce(401, {"www-authenticate": 'DPoP error="use_dpop_nonce"'}, None)
    assert not dpop.asks_for_nonce(401, {"www-authenticate": 'DPoP error="invalid_token"'}, None)
