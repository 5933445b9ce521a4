"""Sending one `authcli call` request: retries, redirects, and --verbose tracing.

Redirects are followed here rather than by httpx so that every hop goes through
SessionAuth, which attaches the token only when the hop's origin is the API's.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from .auth import SessionAuth
from .errors import AuthcliError, UsageError
from .http import translate, within
from .iostreams import IOStreams
from .request import IDEMPOTENT, Body
from .session import Session

MAX_REDIRECTS = 10
RETRY_STATUS = {429, 502, 503, 504}
MAX_BACKOFF = 30.0
MASKED = {"authorization": "***", "proxy-authorization": "***", "dpop": "***"}


@dataclass
class Call:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body | None = None
    timeout: float = 30.0
    retry: int = 0
    retry_all: bool = False


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, min(float(value), MAX_BACKOFF))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when - time.time(), MAX_BACKOFF))


def _masked(name: str, value: str) -> str:
    """The scheme stays (Bearer, DPoP, Basic); the credential does not."""
    if name.lower() not in MASKED:
        return value
    scheme = value.split(" ", 1)[0] if " " in value and name.lower() != "dpop" else ""
    return f"{scheme} ***".strip()


def trace_hooks(io: IOStreams) -> dict[str, list]:  # type: ignore[type-arg]
    """--verbose: request and response lines on stderr, the token masked."""

    def on_request(request: httpx.Request) -> None:
        lines = [f"> {request.method} {request.url}"]
        lines += [f"> {k}: {_masked(k, v)}" for k, v in request.headers.items()]
        io.info("\n".join(lines))

    def on_response(response: httpx.Response) -> None:
        lines = [f"< {response.http_version} {response.status_code} {response.reason_phrase}"]
        lines += [f"< {k}: {v}" for k, v in response.headers.items()]
        io.info("\n".join(lines))

    return {"request": [on_request], "response": [on_response]}


class Sender:
    def __init__(self, client: httpx.Client, session: Session, io: IOStreams) -> None:
        self.client = client
        self.session = session
        self.io = io
        self.auth: SessionAuth | None = None

    def send(self, call: Call) -> httpx.Response:
        """The final response, streamed (the caller closes it)."""
        method, url, body = call.method, call.url, call.body
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_with_retry(call, method, url, body)
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return response
            response.close()
            url = urljoin(url, location)
            if response.status_code == 303 or (response.status_code in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
            elif body is not None and not body.replayable:
                raise UsageError(
                    f"cannot follow the {response.status_code} redirect to {url}: the body came from stdin "
                    "and cannot be sent again; call that URL directly"
                )
        raise AuthcliError(f"too many redirects (more than {MAX_REDIRECTS}), last to {url}")

    def _send_with_retry(self, call: Call, method: str, url: str, body: Body | None) -> httpx.Response:
        replayable = body is None or body.replayable
        may_retry = (method in IDEMPOTENT or call.retry_all) and replayable
        attempt = 0
        while True:
            headers = list(call.headers)
            if body is not None and body.content_type and not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", body.content_type))
            if body is not None and body.size is not None:
                headers.append(("Content-Length", str(body.size)))
            request = self.client.build_request(
                method, url, headers=headers, content=body.content() if body else None
            )
            self.auth = SessionAuth(self.session, replayable=replayable)
            try:
                # The deadline covers the answer's headers; a streaming body then has the
                # client's read timeout as its idle timeout.
                with within(call.timeout):
                    response = self.client.send(request, auth=self.auth, stream=True)
            except httpx.TransportError as exc:
                if may_retry and attempt < call.retry:
                    attempt += 1
                    self._pause(min(2.0 ** (attempt - 1), MAX_BACKOFF), str(translate(exc, url).message), attempt, call)
                    continue
                raise translate(exc, url, call.timeout) from None
            if response.status_code in RETRY_STATUS and may_retry and attempt < call.retry:
                attempt += 1
                delay = retry_after(response)
                response.close()
                self._pause(min(2.0 ** (attempt - 1), MAX_BACKOFF) if delay is None else delay,
                            f"HTTP {response.status_code}", attempt, call)
                continue
            return response

    def _pause(self, delay: float, why: str, attempt: int, call: Call) -> None:
        self.io.info(f"authcli: {why}; retrying in {delay:g}s ({attempt}/{call.retry})")
        time.sleep(delay)
