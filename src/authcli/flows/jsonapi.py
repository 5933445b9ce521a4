"""The JSON protocol: POST {api}/auth/login, /auth/refresh and /auth/logout."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import httpx

from ..config import Profile
from ..errors import AuthcliError, LoginFailed, NetworkError
from ..http import describe_body, host_port, json_body, make_client, server_message, translate
from ..tokens import MalformedResponse, TokenRecord, record_from_response
from ..urls import join
from . import RefreshMalformed, RefreshRejected, RefreshTransient

TRANSIENT_STATUS = {408, 429}
# A 400 carrying one of these is a request the server could not understand (a profile
# misconfiguration), not a verdict on the refresh token: the tokens are kept.
NOT_A_VERDICT = {"invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type"}


class JsonApiFlow:
    def __init__(
        self,
        profile: Profile,
        env: Mapping[str, str],
        api_origin: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert profile.api_url
        self.profile = profile
        self.env = env
        self.api_origin = api_origin
        self.clock = clock

    def _post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> httpx.Response:
        url = join(self.profile.api_url or "", path)
        with make_client(self.profile, self.env, timeout=timeout) as client:
            return client.post(url, json=body, headers={"Accept": "application/json"})

    def login(self, user: str, password: str) -> TokenRecord:
        url = join(self.profile.api_url or "", self.profile.login_path)
        sent_at = self.clock()
        body = {self.profile.login_user_field: user, self.profile.login_password_field: password}
        try:
            response = self._post(self.profile.login_path, body)
        except httpx.HTTPError as exc:
            raise translate(exc, url, self.profile.timeout) from None
        data = json_body(response)
        if response.status_code in (400, 401, 403):
            raise LoginFailed(f"login failed: {server_message(data) or 'invalid credentials'}")
        if response.status_code >= 500:
            raise NetworkError(f"{host_port(url)} answered HTTP {response.status_code} to the login; try again later")
        if response.status_code >= 300:
            raise AuthcliError(
                f"login endpoint {url} answered HTTP {response.status_code}; check --api-url and the profile's login_path"
            )
        if data is None:
            raise NetworkError(
                f"{host_port(url)} answered the login with {describe_body(response)}, not JSON; "
                "is --api-url the API's base URL?"
            )
        try:
            return record_from_response(data, sent_at, self.api_origin)
        except MalformedResponse as exc:
            raise NetworkError(f"unexpected login answer from {host_port(url)}: {exc}") from None

    def refresh(self, record: TokenRecord) -> TokenRecord:
        assert record.refresh_token
        url = join(self.profile.api_url or "", self.profile.refresh_path)
        sent_at = self.clock()
        try:
            response = self._post(self.profile.refresh_path, {self.profile.refresh_field: record.refresh_token})
        except httpx.HTTPError as exc:
            raise RefreshTransient(translate(exc, url, self.profile.timeout).message) from None
        status = response.status_code
        data = json_body(response)
        if status in TRANSIENT_STATUS or status >= 500:
            raise RefreshTransient(f"{host_port(url)} answered HTTP {status} to the refresh; try again later")
        if status in (400, 401):
            error = data.get("error") if isinstance(data, dict) else None
            if status == 400 and error in NOT_A_VERDICT:
                raise AuthcliError(
                    f"the refresh endpoint refused the request ({server_message(data)}); "
                    "check the profile's refresh_path and refresh_field"
                )
            raise RefreshRejected(server_message(data) or f"HTTP {status}")
        if not 200 <= status < 300:
            raise RefreshMalformed(f"{host_port(url)} answered HTTP {status} to the refresh; tokens kept")
        if data is None:
            raise RefreshMalformed(
                f"{host_port(url)} answered the refresh with {describe_body(response)}, not JSON; tokens kept"
            )
        try:
            return record_from_response(data, sent_at, self.api_origin, previous_refresh_token=record.refresh_token)
        except MalformedResponse as exc:
            raise RefreshMalformed(f"unexpected refresh answer from {host_port(url)}: {exc}; tokens kept") from None

    def logout(self, record: TokenRecord) -> None:
        """Tell the server the session is over. Best effort: raises NetworkError on any failure."""
        if not record.refresh_token:
            return
        url = join(self.profile.api_url or "", self.profile.logout_path)
        try:
            response = self._post(
                self.profile.logout_path,
                {self.profile.refresh_field: record.refresh_token},
                timeout=min(self.profile.timeout, 10.0),
            )
        except httpx.HTTPError as exc:
            raise translate(exc, url, min(self.profile.timeout, 10.0)) from None
        if response.status_code >= 400 and response.status_code not in (400, 401):
            raise NetworkError(f"{host_port(url)} answered HTTP {response.status_code} to the logout")
