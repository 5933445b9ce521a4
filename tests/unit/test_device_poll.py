"""RFC 8628 polling decisions (pure logic: the token endpoint's answers are canned; the real
exchange is tested against django-oauth-toolkit and oidc-provider in tests/integration/test_oauth_*.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from authcli.config import Profile
from authcli.errors import LoginFailed
from authcli.flows.oauth import OAuthFlow
from authcli.iostreams import IOStreams

PROFILE = Profile(name="p", api_url="https://api.example.com", flow="oauth", client_id="c",
                  token_endpoint="https://auth.example.com/token", grant="device")


def flow_answering(*answers: tuple[int, dict[str, Any]]) -> tuple[OAuthFlow, list[float]]:
    now = [1000.0]
    flow = OAuthFlow(PROFILE, {}, "https://api.example.com:443", clock=lambda: now[0])
    queue = list(answers)

    def token_request(form: dict[str, str], secret: str | None, dpop_key: str | None = None,
                      ) -> tuple[httpx.Response, str, float]:
        status, body = queue.pop(0)
        return httpx.Response(status, json=body), PROFILE.token_endpoint or "", now[0]

    flow._token_request = token_request  # type: ignore[method-assign]
    return flow, now


def test_pending_then_slow_down_then_tokens() -> None:
    flow, now = flow_answering((400, {"error": "authorization_pending"}), (400, {"error": "slow_down"}),
                               (400, {"error": "authorization_pending"}),
                               (200, {"access_token": "A", "refresh_token": "R", "expires_in": 60}))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    record = flow.poll_device({"device_code": "d", "interval": 2, "expires_in": 600}, IOStreams.test(), sleep)
    assert record.access_token == "A" and record.refresh_token == "R"
    assert waits == [2, 2, 7, 7]  # slow_down adds 5 s to every later wait


@pytest.mark.parametrize(("answer", "message"), [
    ((400, {"error": "access_denied"}), "denied"),
    ((400, {"error": "expired_token"}), "expired"),
])
def test_final_answers(answer: tuple[int, dict[str, Any]], message: str) -> None:
    flow, now = flow_answering(answer)
    with pytest.raises(LoginFailed, match=message):
        flow.poll_device({"device_code": "d", "interval": 1}, IOStreams.test(), lambda s: None)


def test_gives_up_when_the_server_never_says_expired() -> None:
    flow, now = flow_answering(*[(400, {"error": "authorization_pending"})] * 10)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(LoginFailed, match="expired"):
        flow.poll_device({"device_code": "d", "interval": 5, "expires_in": 12}, IOStreams.test(), sleep)


def test_the_server_decides_expiry_while_it_answers() -> None:
    # The first poll comes after the local deadline: the server's answer still counts.
    flow, now = flow_answering((200, {"access_token": "A", "expires_in": 60}))

    def sleep(seconds: float) -> None:
        now[0] += seconds

    record = flow.poll_device({"device_code": "d", "interval": 5, "expires_in": 3}, IOStreams.test(), sleep)
    assert record.access_token == "A"
