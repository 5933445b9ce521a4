"""What a token endpoint's answer to a refresh means (flows/common.py): one row per kind of
answer. Only a verdict on the grant (RFC 6749 5.2 invalid_grant) ends the session; every other
refusal is an error of this attempt and keeps it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from authcli.flows import RefreshMalformed, RefreshRefused, RefreshRejected, RefreshTransient
from authcli.flows.common import refresh_result
from authcli.tokens import TokenRecord

RECORD = TokenRecord("A", "R", 100.0, 0.0, "https://api.example.com:443", client_secret="S")
URL = "https://auth.example.com/token"


@pytest.mark.parametrize(("status", "body", "outcome"), [
    (200, {"access_token": "A2", "refresh_token": "R2", "expires_in": 60}, TokenRecord),
    (400, {"error": "invalid_grant"}, RefreshRejected),
    (401, {"error": "invalid_grant"}, RefreshRejected),
    (401, {"error": "invalid_token"}, RefreshRefused),
    (400, {"error": "invalid_scope"}, RefreshRefused),  # the request was wrong, not the refresh token
    (400, {"error": "invalid_client"}, RefreshRefused),
    (401, {"error": "invalid_client"}, RefreshRefused),  # RFC 6749 5.2: a bad client_secret_basic
    (400, {"error": "invalid_request"}, RefreshRefused),
    (400, {"error": "unsupported_grant_type"}, RefreshRefused),
    (400, {"error": "unauthorized_client"}, RefreshRefused),
    (400, {"error": "invalid_dpop_proof"}, RefreshRefused),  # a skewed clock
    (400, {"error": "use_dpop_nonce"}, RefreshRefused),  # still asking after the one retry
    (401, {}, RefreshRefused),
    (400, "<html>", RefreshRefused),
    (401, {"error": ["invalid_grant"]}, RefreshRefused),
    (429, {}, RefreshTransient),
    (503, {}, RefreshTransient),
    (200, "<html>", RefreshMalformed),
    (200, {"token": "x"}, RefreshMalformed),
    (302, {}, RefreshMalformed),
], ids=lambda v: str(v)[:30])
def test_refresh_answers(status: int, body: Any, outcome: type) -> None:
    response = httpx.Response(status, text=body) if isinstance(body, str) else httpx.Response(status, json=body)
    if outcome is TokenRecord:
        record = refresh_result(response, URL, 10.0, RECORD, "hint")
        assert (record.access_token, record.refresh_token, record.client_secret) == ("A2", "R2", "S")
        return
    with pytest.raises(outcome) as caught:
        refresh_result(response, URL, 10.0, RECORD, "hint")
    assert type(caught.value) is outcome  # RefreshRejected would also be an AuthcliError otherwise


@pytest.mark.parametrize(("error", "next_step"), [
    ("invalid_client", "hint"),
    ("invalid_dpop_proof", "check this machine's clock, then try again"),
    ("use_dpop_nonce", "try again"),
])
def test_a_refusal_says_the_session_is_kept_and_what_to_do(error: str, next_step: str) -> None:
    response = httpx.Response(401, json={"error": error, "error_description": "no"})
    with pytest.raises(RefreshRefused) as caught:
        refresh_result(response, URL, 10.0, RECORD, "hint")
    assert caught.value.message == (f"auth.example.com:443 refused the refresh (HTTP 401 {error}: no); "
                                    f"the session is kept: {next_step}")
    assert caught.value.exit_code == 4
