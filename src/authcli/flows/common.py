"""What every flow does with a token endpoint's answer: one table of outcomes for login and
for refresh, whichever protocol asked (JSON login API or OAuth 2.0 token endpoint)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import httpx

from ..answers import AnswerTooLarge, describe_body, json_body, server_message
from ..config import Profile
from ..errors import AuthcliError, LoginFailed, NetworkError
from ..http import host_port, translate
from ..tokens import MalformedResponse, TokenRecord, record_from_response
from . import RefreshMalformed, RefreshRefused, RefreshRejected, RefreshTransient

TRANSIENT_STATUS = {408, 429}
# RFC 6749 5.2: ``invalid_grant`` is the one answer that says the refresh token itself is dead
# (expired, revoked, spent). Every other refusal (invalid_client for a bad client secret,
# invalid_dpop_proof on a skewed clock, use_dpop_nonce after the retry, a bare 401) is about
# this attempt: the session is kept and nothing more is spent.
VERDICT = "invalid_grant"
ATTEMPT_HINTS = {"invalid_dpop_proof": "check this machine's clock, then try again",
                 "use_dpop_nonce": "try again"}


def refusal(status: int, error: object, data: object) -> str:
    """``HTTP 401 invalid_client: <the server's words>``, printable and short."""
    from ..termsafe import printable

    said = f"HTTP {status}"
    if isinstance(error, str) and error:
        said += " " + printable(error[:60])
    message = server_message(data)
    return f"{said}: {message}" if message and message != printable(str(error)[:200]) else said


def silent(message: str) -> None:
    """Where a flow's warnings go when nobody listens (unit tests)."""


def login_result(response: httpx.Response, url: str, sent_at: float, api_origin: str, hint: str,
                 warn: Callable[[str], None] = silent) -> TokenRecord:
    """The record a login answer gives, or the error it means. ``hint``: what to check on a 3xx/4xx."""
    data = json_body(response)
    status = response.status_code
    if status in (400, 401, 403):
        raise LoginFailed(f"login failed: {server_message(data) or 'invalid credentials'}")
    if status >= 500:
        raise NetworkError(f"{host_port(url)} answered HTTP {status} to the login; try again later")
    if status >= 300:
        raise AuthcliError(f"login endpoint {url} answered HTTP {status}; {hint}")
    if data is None:
        raise NetworkError(
            f"{host_port(url)} answered the login with {describe_body(response)}, not JSON; is the URL right?"
        )
    try:
        return record_from_response(data, sent_at, api_origin, warn=warn)
    except MalformedResponse as exc:
        raise NetworkError(f"unexpected login answer from {host_port(url)}: {exc}") from None


@contextmanager
def refresh_exchange(url: str, timeout: float) -> Iterator[None]:
    """A refresh request's failures as the engine's outcomes: a network failure or a timeout is
    worth one replay; an answer too large to be a token answer keeps the tokens."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise RefreshTransient(translate(exc, url, timeout).message) from None
    except AnswerTooLarge as exc:
        raise RefreshMalformed(f"{exc.message}; tokens kept") from None


def refresh_result(response: httpx.Response, url: str, sent_at: float, record: TokenRecord, hint: str,
                   warn: Callable[[str], None] = silent) -> TokenRecord:
    """The new record a refresh answer gives, or the Refresh* outcome it means (see session.py)."""
    status = response.status_code
    data = json_body(response)
    if status in TRANSIENT_STATUS or status >= 500:
        raise RefreshTransient(f"{host_port(url)} answered HTTP {status} to the refresh; try again later")
    if status in (400, 401):
        error = data.get("error") if isinstance(data, dict) else None
        if error == VERDICT:
            raise RefreshRejected(server_message(data) or VERDICT)
        raise RefreshRefused(f"{host_port(url)} refused the refresh ({refusal(status, error, data)}); "
                             f"the session is kept: {ATTEMPT_HINTS.get(str(error), hint)}")
    if not 200 <= status < 300:
        raise RefreshMalformed(f"{host_port(url)} answered HTTP {status} to the refresh; tokens kept")
    if data is None:
        raise RefreshMalformed(
            f"{host_port(url)} answered the refresh with {describe_body(response)}, not JSON; tokens kept"
        )
    try:
        return record_from_response(data, sent_at, record.api_origin, previous=record, warn=warn)
    except MalformedResponse as exc:
        raise RefreshMalformed(f"unexpected refresh answer from {host_port(url)}: {exc}; tokens kept") from None


class HttpFlow:
    """What every flow holds: the profile, the environment (proxies, CA bundles), the API's
    origin for the records it makes, and the clock that stamps expiry."""

    def __init__(
        self,
        profile: Profile,
        env: Mapping[str, str],
        api_origin: str,
        clock: Callable[[], float] = time.time,
        warn: Callable[[str], None] = silent,
    ) -> None:
        self.profile = profile
        self.env = env
        self.api_origin = api_origin
        self.clock = clock
        self.warn = warn
