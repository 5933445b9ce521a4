"""OAuth 2.0 at a token endpoint (RFC 6749): the password, client-credentials, device
(RFC 8628) and authorization-code-with-PKCE (RFC 7636, 8252) grants,
refresh with grant_type=refresh_token, revocation on logout (RFC 7009), and endpoint
discovery (RFC 8414 / OpenID Connect Discovery).

The refresh engine treats this flow like any other: rotation, adopting a sibling's rotation,
invalid_grant ending the session and transient errors keeping it are all session.py's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx

from ..answers import describe_body, fetch, json_body
from ..config import Profile
from ..errors import LoginFailed, NetworkError, UsageError
from ..http import host_port, translate
from ..iostreams import IOStreams
from ..tokens import TokenRecord
from ..urls import check_api_url
from . import RefreshRefused
from .common import HttpFlow, login_result, refresh_exchange, refresh_result, silent

GRANTS = ("password", "client-credentials", "device", "browser")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
WELL_KNOWN = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


def discover(profile: Profile, env: Mapping[str, str], issuer: str) -> dict[str, Any]:
    """The provider's metadata: OpenID Connect discovery, else RFC 8414."""
    tried = []
    for suffix in WELL_KNOWN:
        url = issuer.rstrip("/") + suffix
        tried.append(url)
        try:
            response = fetch(profile, env, "GET", url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise translate(exc, url, profile.timeout) from None
        if response.status_code == 404:
            continue
        data = json_body(response)
        if response.status_code != 200 or not isinstance(data, dict):
            raise NetworkError(
                f"discovery at {url} answered HTTP {response.status_code} with {describe_body(response)}"
            )
        if not isinstance(data.get("token_endpoint"), str):
            raise UsageError(f"the discovery document at {url} has no token_endpoint; pass --token-endpoint URL")
        return data
    raise UsageError(f"no discovery document at {' or '.join(tried)}; check --issuer, or pass --token-endpoint URL")


class OAuthFlow(HttpFlow):
    def __init__(self, profile: Profile, env: Mapping[str, str], api_origin: str,
                 clock: Callable[[], float] = time.time, warn: Callable[[str], None] = silent) -> None:
        if not profile.token_endpoint or not (profile.client_id or profile.grant == "token-exchange"):
            raise UsageError(f"profile '{profile.name}' has no token_endpoint or client_id; run authcli login again")
        super().__init__(profile, env, api_origin, clock, warn)
        self._new_key: str | None = None

    # -- the token endpoint ------------------------------------------------------------------

    def _client_auth(self, form: dict[str, str], secret: str | None) -> dict[str, str]:
        """Adds client authentication to ``form`` (clientauth.py); returns extra headers."""
        from .clientauth import apply

        return apply(self.profile, self.env, form, secret, self.clock())

    def _extra_params(self) -> dict[str, str]:
        """scope, audience and resource (RFC 8707), as the profile sets them."""
        return {name: getattr(self.profile, name) for name in ("scope", "audience", "resource")
                if getattr(self.profile, name)}

    def _token_request(self, form: dict[str, str], secret: str | None,
                       dpop_key: str | None = None) -> tuple[httpx.Response, str, float]:
        url = self.profile.token_endpoint or ""
        if form["grant_type"] != "refresh_token":
            # A refresh asks for what was granted (RFC 6749 6: no scope means the same scope);
            # repeating the requested scope fails where the grant came out narrower.
            form = {**self._extra_params(), **form}
        headers = {"Accept": "application/json", **self._client_auth(form, secret)}
        if dpop_key is None:
            sent_at = self.clock()
            return fetch(self.profile, self.env, "POST", url, data=form, headers=headers), url, sent_at
        from ..dpop import Prover, asks_for_nonce, remember_nonce

        prover = Prover(dpop_key)
        for attempt in (1, 2):
            sent_at = self.clock()
            response = fetch(self.profile, self.env, "POST", url, data=form,
                             headers={**headers, "DPoP": prover.proof("POST", url)})
            fresh_nonce = remember_nonce(url, response.headers)
            if attempt == 1 and fresh_nonce and asks_for_nonce(response.status_code, response.headers,
                                                               json_body(response)):
                continue  # the server wants its nonce in the proof: once more, with it
            break
        return response, url, sent_at

    def _exchange(self, form: dict[str, str], secret: str | None) -> tuple[httpx.Response, str, float]:
        """A token request at login time: network failures are authcli's NetworkError."""
        try:
            return self._token_request(form, secret, self._login_key())
        except httpx.HTTPError as exc:
            raise translate(exc, self.profile.token_endpoint or "", self.profile.timeout) from None

    def _login_key(self) -> str | None:
        """A DPoP profile's key pair, made once per login (every poll of a device login uses it)."""
        if not self.profile.dpop:
            return None
        if self._new_key is None:
            from ..dpop import new_key

            self._new_key = new_key()
        return self._new_key

    def _grant(self, form: dict[str, str], secret: str | None, hint: str) -> TokenRecord:
        """Exchange ``form`` for a session; the client secret is kept with the tokens."""
        response, url, sent_at = self._exchange(form, secret)
        return self._bound(login_result(response, url, sent_at, self.api_origin, hint, self.warn), secret)

    def _bound(self, record: TokenRecord, secret: str | None) -> TokenRecord:
        """The login's record with the client secret and, for DPoP, the key it is bound to."""
        if self.profile.dpop and record.token_type.lower() != "dpop":
            raise LoginFailed(f"login failed: {host_port(self.profile.token_endpoint or '')} issued "
                              f"{record.token_type} tokens, not DPoP-bound ones; check the client's DPoP settings")
        return replace(record, client_secret=secret, dpop_key=self._login_key())

    def login(self, user: str | None, password: str | None, secret: str | None = None) -> TokenRecord:
        if self.profile.grant == "client-credentials":
            form = {"grant_type": "client_credentials"}
        else:
            form = {"grant_type": "password", "username": user or "", "password": password or ""}
        return self._grant(form, secret, "check --token-endpoint and the client settings")

    def device_login(self, io: IOStreams, sleep: Callable[[float], None] = time.sleep) -> TokenRecord:
        """RFC 8628: show the code, then poll the token endpoint until the user has answered."""
        url = self.profile.device_authorization_endpoint
        if not url:
            raise UsageError("the provider has no device authorization endpoint; "
                             "pass --device-authorization-endpoint URL or use another --flow")
        form: dict[str, str] = {}
        if self.profile.scope:
            form["scope"] = self.profile.scope
        headers = {"Accept": "application/json", **self._client_auth(form, None)}
        try:
            response = fetch(self.profile, self.env, "POST", url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise translate(exc, url, self.profile.timeout) from None
        data = json_body(response)
        if response.status_code != 200:
            # Raises what a refused login raises: exit 4 for a refused client, 5 for a server error.
            login_result(response, url, self.clock(), self.api_origin, "check --client-id and the device endpoint",
                         self.warn)
        if not isinstance(data, dict) or not data.get("device_code") or not data.get("user_code"):
            raise NetworkError(f"unexpected device authorization answer from {host_port(url)} ({describe_body(response)})")
        io.info(f"To sign in, open {data.get('verification_uri')} and enter the code: {data.get('user_code')}")
        if data.get("verification_uri_complete"):
            io.info(f"(or open {data['verification_uri_complete']})")
        return self.poll_device(data, io, sleep)

    def poll_device(self, data: dict[str, Any], io: IOStreams, sleep: Callable[[float], None]) -> TokenRecord:
        interval = float(data.get("interval") or 5)
        deadline = self.clock() + float(data.get("expires_in") or 600)
        expired = "login failed: the code expired before it was used; run authcli login again"
        while True:
            sleep(interval)
            form = {"grant_type": DEVICE_GRANT, "device_code": str(data["device_code"])}
            response, url, sent_at = self._exchange(form, None)
            body = json_body(response)
            error = body.get("error") if isinstance(body, dict) else None
            if response.status_code == 400 and error in ("authorization_pending", "slow_down"):
                if error == "slow_down":
                    interval += 5  # RFC 8628 3.5
                # The server says when the code expired; this only stops a server that never does.
                if self.clock() > deadline:
                    raise LoginFailed(expired)
                continue
            if error == "access_denied":
                raise LoginFailed("login failed: the request was denied")
            if error == "expired_token":
                raise LoginFailed(expired)
            return self._bound(login_result(response, url, sent_at, self.api_origin, "check the device flow settings",
                                            self.warn), None)

    def browser_login(self, io: IOStreams, secret: str | None, open_browser: bool, timeout: float) -> TokenRecord:
        """Authorization code with PKCE S256 (RFC 7636) and a loopback redirect (RFC 8252)."""
        import base64
        import hashlib
        import secrets
        from urllib.parse import urlencode

        from .loopback import Loopback

        url = self.profile.authorization_endpoint
        if not url:
            raise UsageError("the provider has no authorization endpoint; "
                             "pass --authorization-endpoint URL or use another --flow")
        state = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        listener = Loopback(state, self.profile.redirect_port or 0)
        query = {
            "response_type": "code", "client_id": self.profile.client_id or "", "redirect_uri": listener.redirect_uri,
            "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
            **self._extra_params(),
        }
        address = f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"
        io.info(f"Open this URL to sign in: {address}")
        if open_browser:
            import webbrowser

            webbrowser.open(address)
        params = listener.wait(timeout)
        form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": listener.redirect_uri,
                "code_verifier": verifier}
        return self._grant(form, secret, "check the client's redirect settings")

    def can_renew(self, record: TokenRecord) -> bool:
        return record.refresh_token is not None or self.profile.grant == "client-credentials"

    def refresh(self, record: TokenRecord) -> TokenRecord:
        if record.refresh_token is not None:
            form = {"grant_type": "refresh_token", "refresh_token": record.refresh_token}
        else:  # client credentials: no refresh token, just ask again
            form = {"grant_type": "client_credentials"}
        with refresh_exchange(self.profile.token_endpoint or "", self.profile.timeout), kept_on_source_error():
            response, url, sent_at = self._token_request(form, record.client_secret, record.dpop_key)
        return refresh_result(response, url, sent_at, record, "check the profile's client settings", self.warn)

    def logout(self, record: TokenRecord) -> None:
        """Revoke the refresh token (RFC 7009) when the provider has a revocation endpoint."""
        url = self.profile.revocation_endpoint
        token = record.refresh_token or record.access_token
        if not url:
            return
        form = {"token": token, "token_type_hint": "refresh_token" if record.refresh_token else "access_token"}
        headers = self._client_auth(form, record.client_secret)
        try:
            response = fetch(self.profile, self.env, "POST", url, timeout=min(self.profile.timeout, 10.0),
                             data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise translate(exc, url, min(self.profile.timeout, 10.0)) from None
        if response.status_code >= 400:
            raise NetworkError(f"{host_port(url)} answered HTTP {response.status_code} to the revocation")


@contextmanager
def kept_on_source_error() -> Iterator[None]:
    """A key or assertion that cannot be read at refresh time says nothing about the grant: the
    session is kept (and a still valid access token used), as for any refused attempt."""
    from .sources import SourceUnavailable

    try:
        yield
    except SourceUnavailable as exc:
        raise RefreshRefused(f"{exc.message}; the session is kept") from None


def endpoint(url: str, what: str) -> str:
    """Endpoints carry secrets (passwords, client secrets, refresh tokens): https, or loopback."""
    try:
        check_api_url(url)
    except UsageError as exc:
        raise UsageError(f"{what}: {exc.message}") from None
    return url.strip()  # as given: a trailing slash can matter to the server
