"""The JSON protocol: POST {api}/auth/login, /auth/refresh and /auth/logout."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..answers import fetch
from ..config import Profile
from ..errors import NetworkError
from ..http import host_port, translate
from ..tokens import TokenRecord
from ..urls import join
from .common import HttpFlow, login_result, refresh_exchange, refresh_result, silent


class JsonApiFlow(HttpFlow):
    def __init__(self, profile: Profile, env: Mapping[str, str], api_origin: str,
                 clock: Callable[[], float] = time.time, warn: Callable[[str], None] = silent) -> None:
        assert profile.api_url
        super().__init__(profile, env, api_origin, clock, warn)

    def _post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> httpx.Response:
        url = join(self.profile.api_url or "", path)
        return fetch(self.profile, self.env, "POST", url, timeout=timeout, json=body,
                     headers={"Accept": "application/json"})

    def login(self, user: str | None, password: str | None, secret: str | None = None) -> TokenRecord:
        """``secret`` (an OAuth client secret) has no place in this protocol and is ignored."""
        url = join(self.profile.api_url or "", self.profile.login_path)
        sent_at = self.clock()
        body = {self.profile.login_user_field: user, self.profile.login_password_field: password}
        try:
            response = self._post(self.profile.login_path, body)
        except httpx.HTTPError as exc:
            raise translate(exc, url, self.profile.timeout) from None
        return login_result(response, url, sent_at, self.api_origin, "check --api-url and the profile's login_path",
                            self.warn)

    def can_renew(self, record: TokenRecord) -> bool:
        return record.refresh_token is not None

    def refresh(self, record: TokenRecord) -> TokenRecord:
        assert record.refresh_token
        url = join(self.profile.api_url or "", self.profile.refresh_path)
        sent_at = self.clock()
        with refresh_exchange(url, self.profile.timeout):
            response = self._post(self.profile.refresh_path, {self.profile.refresh_field: record.refresh_token})
        return refresh_result(response, url, sent_at, record, "check the profile's refresh_path and refresh_field", self.warn)

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
