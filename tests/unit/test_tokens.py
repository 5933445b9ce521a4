from __future__ import annotations

from typing import Any

import jwt
import pytest

from authcli.claims import humanize, jwt_claims
from authcli.rules import refresh_margin
from authcli.tokens import MalformedRecord, MalformedResponse, TokenRecord, record_from_response

ORIGIN = "https://api.example.com:443"


def make_jwt(**claims: Any) -> str:
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [
        (None, 0.0),
        (0, 0.0),
        (1, 0.5),        # never more than half the lifetime
        (60, 30.0),      # at least 30 s
        (900, 90.0),     # 10%
        (3600, 300.0),   # at most 300 s
        (86400, 300.0),
    ],
)
def test_refresh_margin(lifetime: float | None, margin: float) -> None:
    assert refresh_margin(lifetime) == margin


PREVIOUS = TokenRecord("OLD-A", "OLD", None, 0.0, ORIGIN, client_secret="S", id_token="OLD-ID", scope="openid a")


@pytest.mark.parametrize(
    ("answer", "id_token", "scope"),
    [
        ({"access_token": "A"}, "OLD-ID", "openid a"),  # a refresh answer may leave both out: unchanged
        ({"access_token": "A", "id_token": "NEW-ID", "scope": "openid"}, "NEW-ID", "openid"),
    ],
)
def test_refresh_keeps_what_the_answer_leaves_out(answer: dict[str, Any], id_token: str, scope: str) -> None:
    record = record_from_response(answer, sent_at=1000.0, api_origin=ORIGIN, previous=PREVIOUS)
    assert (record.id_token, record.scope, record.client_secret) == (id_token, scope, "S")
    fresh = record_from_response(answer, sent_at=1000.0, api_origin=ORIGIN)
    assert fresh.client_secret is None and fresh.refresh_token is None


@pytest.mark.parametrize(
    ("answer", "access", "refresh", "expires_at"),
    [
        ({"accessToken": "A", "refreshToken": "R", "expiresIn": 60}, "A", "R", 1060.0),
        ({"access_token": "A", "refresh_token": "R", "expires_in": 60}, "A", "R", 1060.0),
        ({"access_token": "A", "expires_in": "30"}, "A", "OLD", 1030.0),  # no rotation: keep the old one
        ({"access_token": "A"}, "A", "OLD", None),                          # opaque token, no lifetime
        ({"access_token": make_jwt(iat=5000, exp=5120)}, None, "OLD", 1120.0),  # exp - iat, not exp
    ],
)
def test_record_from_response(answer: dict[str, Any], access: str | None, refresh: str,
                              expires_at: float | None) -> None:
    record = record_from_response(answer, sent_at=1000.0, api_origin=ORIGIN, previous=PREVIOUS)
    if access is not None:
        assert record.access_token == access
    assert record.refresh_token == refresh
    assert record.expires_at == expires_at
    assert record.obtained_at == 1000.0


@pytest.mark.parametrize(
    "answer",
    [[], "token", {}, {"accessToken": ""}, {"accessToken": 5}, {"access_token": "A", "expires_in": "soon"},
     {"access_token": "A", "expires_in": True}, {"access_token": "A", "refresh_token": 7},
     {"access_token": "A", "id_token": 7}, {"access_token": "A", "scope": ["openid"]}],
)
def test_record_from_response_rejects(answer: Any) -> None:
    with pytest.raises(MalformedResponse):
        record_from_response(answer, sent_at=0, api_origin=ORIGIN)


def test_record_roundtrip_and_repr_hide_values() -> None:
    record = TokenRecord("V4LUE-access", "V4LUE-refresh", 100.0, 40.0, ORIGIN, client_secret="V4LUE-client",
                         id_token="V4LUE-id", scope="openid")
    assert TokenRecord.from_json(record.to_json()) == record
    for text in (repr(record), str(record), f"{record}"):
        assert "V4LUE" not in text
    assert record.lifetime == 60.0
    assert record.valid_for(now=70, seconds=29) and not record.valid_for(now=70, seconds=30)


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"version": 2}', '{"version": 1}',
     '{"version": 1, "access_token": "", "refresh_token": null, "expires_at": null, "obtained_at": 1, "api_origin": "x"}',
     '{"version": 1, "access_token": "a", "refresh_token": 5, "expires_at": null, "obtained_at": 1, "api_origin": "x"}',
     '{"version": 1, "access_token": "a", "refresh_token": null, "expires_at": "x", "obtained_at": 1, "api_origin": "x"}'],
)
def test_from_json_rejects_foreign_records(text: str) -> None:
    with pytest.raises(MalformedRecord):
        TokenRecord.from_json(text)


def test_unknown_expiry_counts_as_valid_until_rejected() -> None:
    record = TokenRecord("a", None, None, 0.0, ORIGIN)
    assert record.valid_for(now=1e12, seconds=1e6)
    assert record.has_session(now=1e12)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(12 * 60 + 5, "in 12m"), (-180, "expired 3m ago"), (5, "in 5s"), (3 * 3600 + 120, "in 3h02m"),
     (-2 * 86400, "expired 2d ago")],
)
def test_humanize(seconds: float, text: str) -> None:
    assert humanize(seconds) == text


def test_jwt_claims_for_display_only() -> None:
    assert jwt_claims(make_jwt(sub="u1", email="a@b.c"))["email"] == "a@b.c"  # type: ignore[index]
    assert jwt_claims("opaque-token") is None
    assert jwt_claims("a.b.c") is None


@pytest.mark.parametrize(("token", "line"), [
    ("abc.def", 'header = "Authorization: Bearer abc.def"\n'),
    ('a"b\\c', 'header = "Authorization: Bearer a\\"b\\\\c"\n'),  # visible ASCII a provider may issue
])
def test_curl_config_quotes_what_curl_would_unquote(token: str, line: str) -> None:
    from authcli.commands.token import render

    assert render(TokenRecord(token, None, None, 0.0, "https://api.example.com:443", token_type="bearer"),
                  "curl-config") == line
