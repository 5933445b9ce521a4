"""httpx.Auth that attaches the session's token, only for the API's own origin.

On a 401 it asks the refresh engine for a token other than the rejected one (a sibling's
fresh token when there is one, else one refresh) and replays the request exactly once;
a body streamed from stdin cannot be replayed, so then it only refreshes for next time.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Protocol

import httpx

from .urls import origin_str


class TokenProvider(Protocol):
    """What SessionAuth needs: session.Session, or the proxy's TokenSource in front of one."""

    api_origin: str

    def access_token(self, min_ttl: float = 0.0, rejected: str | None = None) -> str: ...


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
            yield request
            return
        token = self.session.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        fresh = self.session.access_token(rejected=token)
        if fresh == token:
            return  # nothing newer to offer (the proxy's TokenSource): the 401 stands
        token = fresh
        if not self.replayable:
            self.unsent_after_refresh = True  # the next run gets the new token; this body is gone
            return
        request.headers["Authorization"] = f"Bearer {token}"
        yield request
