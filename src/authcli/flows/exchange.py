"""OAuth 2.0 Token Exchange (RFC 8693): a token the workload already holds (a CI job's OIDC
token, a projected Kubernetes service-account token) exchanged for an access token to the API.

There is no refresh token to keep: renewing reads the subject token again from its source
(flows/sources.py) and exchanges again. The refresh engine (session.py) does that under its
usual single-flight lock, because can_renew() always says yes, so N processes on an expired
token cause one exchange. A refresh token in an exchange answer is dropped: the workload's
own identity, not a grant authcli keeps, decides how long access lasts.

Every refusal of an exchange (an expired or unknown subject token, invalid_grant included) is
about this attempt and names the subject token's source; it never ends the session, since
the next, rotated subject token may well be accepted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..answers import json_body
from ..errors import LoginFailed, UsageError
from ..http import host_port
from ..tokens import TokenRecord
from . import RefreshRefused
from .common import login_result, refresh_exchange, refresh_result, refusal
from .oauth import OAuthFlow, kept_on_source_error
from .sources import TokenSource, source_of

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT = "urn:ietf:params:oauth:token-type:jwt"


def subject_source(profile: object) -> TokenSource | None:
    return source_of(profile, "subject_token", "subject token")


def actor_source(profile: object) -> TokenSource | None:
    return source_of(profile, "actor_token", "actor token")


class ExchangeFlow(OAuthFlow):
    def _subject(self) -> TokenSource:
        source = subject_source(self.profile)
        if source is None:
            raise UsageError(f"profile '{self.profile.name}' exchanges tokens but names no subject token; run "
                             "authcli login --flow token-exchange --subject-token-file PATH (or -env, -command)")
        return source

    def _form(self) -> dict[str, str]:
        """The exchange request, with the subject (and actor) token read now from its source."""
        profile = self.profile
        form = {"grant_type": GRANT, "subject_token": self._subject().read(self.env),
                "subject_token_type": profile.subject_token_type or JWT}
        actor = actor_source(profile)
        if actor is not None:
            form["actor_token"] = actor.read(self.env)
            form["actor_token_type"] = profile.actor_token_type or JWT
        if profile.requested_token_type:
            form["requested_token_type"] = profile.requested_token_type
        return form  # scope, audience and resource: _token_request adds the profile's

    def _refused(self, status: int, data: object) -> str:
        """What a 400/401/403 to an exchange means, naming what to check."""
        error = data.get("error") if isinstance(data, dict) else None
        url = self.profile.token_endpoint or ""
        check = ("the client authentication" if error == "invalid_client"
                 else f"{self._subject().describe()}" + (" and the actor token" if actor_source(self.profile) else ""))
        return f"{host_port(url)} refused the token exchange ({refusal(status, error, data)}); check {check}"

    @staticmethod
    def _session(record: TokenRecord) -> TokenRecord:
        """An exchange answer as a session: no refresh token; token_type N_A (the issued token is
        not an OAuth access token, RFC 8693 2.2.1) is still sent as a Bearer token."""
        token_type = "Bearer" if record.token_type.upper() == "N_A" else record.token_type
        return replace(record, refresh_token=None, token_type=token_type)

    def login(self, user: str | None, password: str | None, secret: str | None = None) -> TokenRecord:
        response, url, sent_at = self._exchange(self._form(), secret)
        if response.status_code in (400, 401, 403):
            raise LoginFailed(f"login failed: {self._refused(response.status_code, json_body(response))}")
        record = login_result(response, url, sent_at, self.api_origin, "check --token-endpoint", self.warn)
        return self._bound(self._session(record), secret)

    def can_renew(self, record: TokenRecord) -> bool:
        return True  # the subject token is read again

    def refresh(self, record: TokenRecord) -> TokenRecord:
        url = self.profile.token_endpoint or ""
        with refresh_exchange(url, self.profile.timeout), kept_on_source_error():
            response, url, sent_at = self._token_request(self._form(), record.client_secret, record.dpop_key)
        if response.status_code in (400, 401, 403):
            raise RefreshRefused(f"{self._refused(response.status_code, json_body(response))}; the session is kept")
        fresh = refresh_result(response, url, sent_at, record, "check the profile's token exchange settings", self.warn)
        return self._session(fresh)


def settings(existing: object, grant: str, subject: dict[str, str | None], subject_type: str | None,
             actor: dict[str, str | None], actor_type: str | None, requested_type: str | None) -> dict[str, Any]:
    """The profile's token-exchange fields for login: the flags given, else what it had."""
    from .sources import settings as source_settings

    given = [name for name, value in (("--subject-token-" + k, v) for k, v in subject.items()) if value is not None]
    given += [name for name, value in (("--actor-token-" + k, v) for k, v in actor.items()) if value is not None]
    given += [name for name, value in (("--subject-token-type", subject_type), ("--actor-token-type", actor_type),
                                       ("--requested-token-type", requested_type)) if value is not None]
    if grant != "token-exchange":
        if given:
            raise UsageError(f"{given[0]} goes with --flow token-exchange")
        return {f"{who}_token_{kind}": None for who in ("subject", "actor") for kind in ("file", "env", "command", "type")} \
            | {"requested_token_type": None}
    fields: dict[str, Any] = {**source_settings("subject_token", "subject-token", subject, existing),
                                 **source_settings("actor_token", "actor-token", actor, existing)}
    if not any(fields[f"subject_token_{kind}"] for kind in ("file", "env", "command")):
        raise UsageError("--flow token-exchange needs the token to exchange: --subject-token-file PATH, "
                         "--subject-token-env NAME or --subject-token-command CMD")
    for name, value in (("subject_token_type", subject_type), ("actor_token_type", actor_type),
                        ("requested_token_type", requested_type)):
        if value is not None and not value.strip():
            raise UsageError(f"--{name.replace('_', '-')} is empty")
        fields[name] = value if value is not None else getattr(existing, name)
    return fields


def check_offered(metadata: dict[str, object], issuer: str) -> None:
    """Exit 2 before anything is sent when discovery lists the grants and not token exchange."""
    grants = metadata.get("grant_types_supported")
    if isinstance(grants, list) and GRANT not in grants:
        raise UsageError(f"the provider {issuer} does not offer token exchange (its discovery document's "
                         f"grant_types_supported has no {GRANT})")
