"""How an OAuth client proves who it is at the token endpoint, for every request the profile
sends there (client credentials, refresh, device, code, token exchange, revocation).

- none: only client_id in the form (a public client).
- client_secret_basic / client_secret_post (RFC 6749 2.3.1): the secret kept in the record.
- private_key_jwt (RFC 7523 2.2, OpenID Connect Core 9): a short-lived JWT signed here with
  the key in client_key_file (RS256 for an RSA key, ES256/ES384 for a P-256/P-384 key): iss =
  sub = client_id, aud = the token endpoint, a unique jti, exp 60 s after iat.
- client_assertion: a JWT issued elsewhere (a CI job's OIDC token, a projected Kubernetes
  token) sent as the assertion: Azure's workload identity federation and its equivalents.
  Read from its source (flows/sources.py) on EVERY request, so a rotated token is picked up.

The private key is read from its file each time, never copied into the store (unlike the DPoP
key, which authcli makes itself): the file stays the one copy to protect, and replacing it
rotates the key for every later request without a new login. Providers list both JWT methods
as ``private_key_jwt`` in token_endpoint_auth_methods_supported; a provider whose discovery
document lacks the profile's method is refused before anything is sent (exit 2).

PyJWT and cryptography are imported only when an assertion is signed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..errors import UsageError
from .sources import SourceUnavailable, TokenSource, source_of

METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt", "client_assertion")
JWT_METHODS = ("private_key_jwt", "client_assertion")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LIFETIME = 60  # seconds an assertion signed here is valid
MAX_KEY = 64 * 1024


def metadata_name(method: str) -> str:
    """What discovery's token_endpoint_auth_methods_supported calls ``method``."""
    return "private_key_jwt" if method in JWT_METHODS else method


def method_of(profile: Any, secret: str | None) -> str:
    """The profile's method; without one, Basic when there is a secret, else none."""
    return str(profile.client_auth or ("client_secret_basic" if secret else "none"))


def assertion_source(profile: Any) -> TokenSource | None:
    return source_of(profile, "client_assertion", "client assertion")


def apply(profile: Any, env: Mapping[str, str], form: dict[str, str], secret: str | None,
          now: float) -> dict[str, str]:
    """Adds client authentication to ``form`` (profile: config.Profile); returns extra headers.

    Raises SourceUnavailable (exit 4) when the key or the assertion cannot be had."""
    method = method_of(profile, secret)
    client_id = profile.client_id or ""
    if method == "private_key_jwt":
        form.update(client_id=client_id, client_assertion_type=ASSERTION_TYPE,
                    client_assertion=sign(profile.client_key_file or "", profile.client_key_id, client_id,
                                          profile.token_endpoint or "", now))
        return {}
    if method == "client_assertion":
        source = assertion_source(profile)
        if source is None:
            raise SourceUnavailable(f"profile '{profile.name}' has client_auth = client_assertion but no "
                                    f"client_assertion_file, _env or _command; run authcli login again")
        if client_id:
            form["client_id"] = client_id
        form.update(client_assertion_type=ASSERTION_TYPE, client_assertion=source.read(env))
        return {}
    if method == "none" or not secret:
        if client_id:
            form["client_id"] = client_id
        return {}
    if method == "client_secret_post":
        form["client_id"] = client_id
        form["client_secret"] = secret
        return {}
    import base64

    # RFC 6749 2.3.1: both parts form-urlencoded before Basic encoding.
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


# -- private_key_jwt ------------------------------------------------------------------------------

def read_key(path: str) -> tuple[Any, str]:
    """The private key in ``path`` and the JWS algorithm its type calls for. The file must be
    readable by nobody else (as ssh demands of a private key); links are followed (a mounted
    Kubernetes secret is one)."""
    from ..oscalls import open_to_others

    what = f"the client key file {path}"
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            raw = handle.read(MAX_KEY + 1)
    except OSError as exc:
        raise SourceUnavailable(f"cannot read {what}: {exc.strerror or exc}") from None
    if open_to_others(info, 0o026):  # others may read, or others or the group write (the group may read)
        raise SourceUnavailable(f"{what} can be read or written by other users; fix it with: chmod 600 {path}")

    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(raw, password=None)
    except TypeError:
        raise SourceUnavailable(f"{what} is encrypted; authcli needs an unencrypted PEM key "
                                "(protect the file instead)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SourceUnavailable(f"{what} holds no PEM private key authcli can use") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise SourceUnavailable(f"{what} holds an RSA key of {key.key_size} bits; use 2048 bits or more")
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in ("secp256r1", "secp384r1"):
        return key, "ES256" if key.curve.name == "secp256r1" else "ES384"
    raise SourceUnavailable(f"{what} holds a {type(key).__name__.lstrip('_')}; use an RSA key (RS256) "
                            "or an EC P-256 key (ES256)")


def sign(path: str, key_id: str | None, client_id: str, audience: str, now: float) -> str:
    """A fresh client assertion (RFC 7523 3) signed with the key in ``path``."""
    import secrets

    import jwt

    key, algorithm = read_key(path)
    issued = int(now)
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": secrets.token_urlsafe(24),
              "iat": issued, "nbf": issued, "exp": issued + LIFETIME}
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


# -- login --------------------------------------------------------------------------------------

def settings(existing: Any, method: str | None, key_file: str | None, key_id: str | None,
             assertion: Mapping[str, str | None], secret_given: bool) -> dict[str, Any]:
    """The profile's client-authentication fields for login: the flags given, else what the
    profile had. --client-key-file means private_key_jwt, --client-assertion-* client_assertion."""
    from .sources import settings as source_settings

    given_assertion = any(value is not None for value in assertion.values())
    if key_file is not None and given_assertion:
        raise UsageError("--client-key-file signs a client assertion and --client-assertion-* sends one issued "
                         "elsewhere: choose one")
    if key_id is not None and key_file is None and not (existing.client_key_file and method in (None, "private_key_jwt")):
        raise UsageError("--client-key-id goes with --client-key-file")
    implied = "private_key_jwt" if key_file is not None else "client_assertion" if given_assertion else None
    if method is not None and method not in METHODS:
        raise UsageError(f"unknown --client-auth {method!r}: use {', '.join(METHODS)}")
    if method is not None and implied is not None and method != implied:
        flag = "--client-key-file" if implied == "private_key_jwt" else "--client-assertion-*"
        raise UsageError(f"{flag} means --client-auth {implied}, not {method}")
    chosen = implied or method or existing.client_auth
    if chosen in JWT_METHODS and secret_given:
        raise UsageError(f"client_auth {chosen} uses no client secret; drop --client-secret-stdin "
                         "(and AUTHCLI_CLIENT_SECRET)")
    fields: dict[str, Any] = {"client_auth": chosen, "client_key_file": None, "client_key_id": None,
                              **{f"client_assertion_{kind}": None for kind in ("file", "env", "command")}}
    if chosen == "private_key_jwt":
        path = os.path.abspath(os.path.expanduser(key_file)) if key_file is not None else existing.client_key_file
        if not path:
            raise UsageError("client_auth private_key_jwt needs --client-key-file PEM")
        read_key(path)  # a key that cannot sign fails now, before anything is sent
        fields.update(client_key_file=path,
                      client_key_id=key_id if key_id is not None else (existing.client_key_id if key_file is None else None))
    elif chosen == "client_assertion":
        fields.update(source_settings("client_assertion", "client-assertion", assertion, existing))
        if source_of(_Fields(fields), "client_assertion", "client assertion") is None:
            raise UsageError("client_auth client_assertion needs --client-assertion-file PATH, "
                             "--client-assertion-env NAME or --client-assertion-command CMD")
    return fields


class _Fields:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def check_offered(method: str | None, metadata: Mapping[str, Any], issuer: str) -> None:
    """Exit 2 before anything is sent when discovery lists the methods and not this one."""
    if method in (None, "none"):
        return
    offered = metadata.get("token_endpoint_auth_methods_supported")
    if isinstance(offered, list) and metadata_name(str(method)) not in offered:
        listed = ", ".join(str(m) for m in offered) or "none"
        raise UsageError(f"the provider {issuer} does not accept {metadata_name(str(method))} client authentication "
                         f"(its discovery document lists: {listed}); choose one of those")
