"""What idtoken.py refuses before it fetches any key: tokens that prove nothing."""

from __future__ import annotations

import base64
import json

import pytest

from authcli.config import Profile
from authcli.errors import AuthError
from authcli.idtoken import verify_id_token

PROFILE = Profile(name="default", flow="oauth", issuer="https://op.example.com", client_id="cli")


def unsigned(alg: str) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part({'iss': PROFILE.issuer, 'aud': 'cli', 'sub': 'x'})}.c2ln"


@pytest.mark.parametrize(("token", "message"), [
    (unsigned("none"), "signed with 'none', which authcli does not accept"),
    (unsigned("HS256"), "signed with 'HS256', which authcli does not accept"),
    ("not-a-jwt", "the stored ID token is not a JWT"),
])
def test_refused_without_asking_for_keys(token: str, message: str) -> None:
    # The JWKS URI is unreachable on purpose: reaching for it would be a different error.
    with pytest.raises(AuthError, match=message):
        verify_id_token(PROFILE, {}, token, "https://unreachable.invalid/jwks")
