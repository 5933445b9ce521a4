"""What a token endpoint's answer to a refresh means (flows/common.py): one row per kind of
answer. Only a verdict on the refresh token ends the session; everything else keeps it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from authcli.errors import AuthcliError
from authcli.flows import RefreshMalformed, RefreshRejected, RefreshTransient
from authcli.flows.common import refresh_result
from authcli.tokens import TokenRecord

RECORD = TokenRecord("A", "R", 100.0, 0.0, "https://api.example.com:443", client_secret="S")
URL = "https://auth.example.com/token"


@pytest.mark.parametrize(("status", "body", "outcome"), [
    (200, {"access_token": "A2", "refresh_token": "R2", "expires_in": 60}, TokenRecord),
    (400, {"error": "invalid_grant"}, RefreshRejected),
    (401, {"error": "invalid_token"}, RefreshRejected),
    (400, {"error": "invalid_scope"}, AuthcliError),  # the request was wrong, not the refresh token
    (400, {"error": "invalid_client"}, AuthcliError),
    (400, {"error": "invalid_request"}, AuthcliError),
    (400, {"error": "unsupported_grant_type"}, AuthcliError),
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
