"""httpx.Auth that attaches the session's token, only for the API's own origin.

Bearer, or for a DPoP-bound session (dpop.py) the DPoP scheme with a fresh proof per
request, retried once when the API asks for its nonce (a nonce asked for again after that is
the API's answer, never a reason to refresh). On any other 401 it asks the refresh engine
for a token other than the rejected one (a sibling's fresh token when there is one, else one
refresh) and replays the request exactly once; a body streamed from stdin cannot be
replayed, so then it only refreshes for next time.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Protocol

import httpx

from .tokens import TokenRecord
from .urls import origin_str


class TokenProvider(Protocol):
    """What SessionAuth needs: session.Session, or the proxy's TokenSource in front of one."""

    api_origin: str

    def valid_record(self, min_ttl: float = 0.0, rejected: str | None = None) -> TokenRecord: ...


class SessionAuth(httpx.Auth):
    def __init__(self, session: TokenProvider, replayable: bool = True, origin: str | None = None) -> None:
        self.session = session
        # The one origin the token may go to: the API's, unless the caller names the token
        # issuer's own (whoami --verify at the userinfo endpoint).
        self.origin = origin or session.api_origin
        self.replayable = replayable
        self.unsent_after_refresh = False

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin_str(str(request.url)) != self.origin:
            # Never send the token anywhere else (a redirect to another host included).
            request.headers.pop("Authorization", None)
            request.headers.pop("DPoP", None)
            yield request
            return
        record = self.session.valid_record()
        authorize(request, record)
        response = yield request
        if record.dpop_key and self.replayable and _wants_nonce(request, response):
            authorize(request, record)  # a new proof, with the API's nonce
            response = yield request
        if response.status_code != 401 or (record.dpop_key and _nonce_challenge(response)):
            return  # a nonce still wanted is not a rejected token: no refresh for it
        fresh = self.session.valid_record(rejected=record.access_token)
        if fresh.access_token == record.access_token:
            return  # nothing newer to offer (the proxy's TokenSource): the 401 stands
        if not self.replayable:
            self.unsent_after_refresh = True  # the next run gets the new token; this body is gone
            return
        authorize(request, fresh)
        yield request


def authorize(request: httpx.Request, record: TokenRecord) -> None:
    """Bearer, or for a DPoP-bound session the DPoP scheme and a fresh proof (with ath)."""
    if not record.dpop_key:
        request.headers["Authorization"] = f"Bearer {record.access_token}"
        return
    from .dpop import prover

    request.headers["Authorization"] = f"DPoP {record.access_token}"
    request.headers["DPoP"] = prover(record.dpop_key).proof(request.method, str(request.url), record.access_token)


def _nonce_challenge(response: httpx.Response) -> bool:
    from .dpop import asks_for_nonce

    return asks_for_nonce(response.status_code, response.headers, None)


def _wants_nonce(request: httpx.Request, response: httpx.Response) -> bool:
    from .dpop import asks_for_nonce, remember_nonce

    fresh = remember_nonce(str(request.url), response.headers)
    if fresh and asks_for_nonce(response.status_code, response.headers, None):
        response.read()
        return True
    return False
