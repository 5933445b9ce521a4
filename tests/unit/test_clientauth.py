"""flows/clientauth.py and flows/sources.py as tables: what each method puts in a token request,
what a signed assertion claims, and which login flags become which profile fields."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import jwt
import pytest

from authcli.config import Profile
from authcli.errors import UsageError
from authcli.flows import clientauth, sources
from authcli.flows.sources import SourceUnavailable, TokenSource
from tests.servers.ci_issuer import client_key

ENDPOINT = "https://auth.example.test/oauth/token"
NOW = 1_800_000_000.0


def profile(**fields: Any) -> Profile:
    return Profile(name="p", client_id="ci", token_endpoint=ENDPOINT, **fields)


APPLY = [  # (profile fields, secret) -> (form fields added, headers)
    ({}, None, {"client_id": "ci"}, {}),
    ({"client_auth": "none"}, "s", {"client_id": "ci"}, {}),
    ({}, "s:/", {}, {"Authorization": "Basic " + base64.b64encode(b"ci:s%3A%2F").decode()}),
    ({"client_auth": "client_secret_post"}, "s", {"client_id": "ci", "client_secret": "s"}, {}),
    ({"client_auth": "client_assertion", "client_assertion_env": "TOKEN"}, None,
     {"client_id": "ci", "client_assertion_type": clientauth.ASSERTION_TYPE, "client_assertion": "a.b.c"}, {}),
]


@pytest.mark.parametrize(("fields", "secret", "form", "headers"), APPLY)
def test_apply(fields: dict[str, Any], secret: str | None, form: dict[str, str], headers: dict[str, str]) -> None:
    sent: dict[str, str] = {}
    assert clientauth.apply(profile(**fields), {"TOKEN": " a.b.c\n"}, sent, secret, NOW) == headers
    assert sent == form


@pytest.mark.parametrize(("kind", "alg"), [("ec", "ES256"), ("rsa", "RS256")])
def test_private_key_jwt_claims(tmp_path: Path, kind: str, alg: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = tmp_path / "key.pem"
    public = load_pem_public_key(client_key(key, kind).encode())
    forms: list[dict[str, str]] = []
    for _ in range(2):
        form: dict[str, str] = {}
        clientauth.apply(profile(client_auth="private_key_jwt", client_key_file=str(key), client_key_id="k1"),
                         {}, form, None, NOW)
        forms.append(form)
    assertion = forms[0]["client_assertion"]
    assert jwt.get_unverified_header(assertion) == {"alg": alg, "typ": "JWT", "kid": "k1"}
    claims = jwt.decode(assertion, public, algorithms=[alg], audience=ENDPOINT,
                        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("ci", "ci", ENDPOINT)
    assert claims["exp"] - claims["iat"] == 60 and claims["iat"] == int(NOW)
    assert forms[0]["client_assertion_type"] == clientauth.ASSERTION_TYPE and forms[0]["client_id"] == "ci"
    assert jwt.decode(forms[1]["client_assertion"], options={"verify_signature": False})["jti"] != claims["jti"]


def test_keys_authcli_cannot_sign_with(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "key.pem"
    cases = {
        b"not a key": "holds no PEM private key authcli can use",
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()):
            "use an RSA key (RS256) or an EC P-256 key (ES256)",
    }
    for data, message in cases.items():
        path.write_bytes(data)
        os.chmod(path, 0o600)
        with pytest.raises(SourceUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
            clientauth.read_key(str(path))


DESCRIBE = [
    (TokenSource("subject token", "file", "/var/run/token"), "the subject token file /var/run/token"),
    (TokenSource("subject token", "env", "CI_TOKEN"), "the subject token in $CI_TOKEN"),
    # a command's arguments may carry secrets: only the program is named
    (TokenSource("client assertion", "command", "/usr/bin/get-token --password hunter2"),
     "the client assertion command 'get-token'"),
]


@pytest.mark.parametrize(("source", "text"), DESCRIBE)
def test_sources_are_named_by_where_never_by_what(source: TokenSource, text: str) -> None:
    assert source.describe() == text
    assert "hunter2" not in repr(source.describe())


READS = [  # (source kind, where, env) -> the token, or the message
    ("env", "T", {"T": "  a.b.c \n"}, "a.b.c"),
    ("env", "T", {}, "the subject token in $T is empty or not set"),
    ("command", "printf a.b.c", {}, "a.b.c"),
    ("command", "false", {}, "the subject token command 'false' failed (exit status 1)"),
    ("command", "/nonexistent/x", {}, "cannot run the subject token command 'x': No such file or directory"),
    ("command", "printf 'a b'", {}, "the subject token command 'printf' does not hold a token"),
    ("command", "sh -c 'echo $AUTHCLI_CLIENT_SECRET$AUTHCLI_STORAGE_KEY'", {"AUTHCLI_CLIENT_SECRET": "x",
                                                                          "AUTHCLI_STORAGE_KEY": "y"},
     "the subject token command 'sh' is empty"),
]


@pytest.mark.parametrize(("kind", "where", "env", "expected"), READS)
def test_read(kind: str, where: str, env: dict[str, str], expected: str) -> None:
    source = TokenSource("subject token", kind, where)
    if "." in expected and " " not in expected:
        assert source.read({"PATH": os.environ["PATH"], **env}) == expected
        return
    with pytest.raises(SourceUnavailable) as info:
        source.read({"PATH": os.environ["PATH"], **env})
    assert info.value.message.startswith(expected), info.value.message
    assert info.value.exit_code == 4


SETTINGS = [  # (flags given, existing profile) -> fields, or the usage error
    ({"file": "rel/token"}, {}, {"subject_token_file": os.path.abspath("rel/token"), "subject_token_env": None,
                                 "subject_token_command": None}),
    ({"env": "K8S_TOKEN"}, {"subject_token_file": "/old"}, {"subject_token_file": None,
                                                           "subject_token_env": "K8S_TOKEN",
                                                           "subject_token_command": None}),
    ({}, {"subject_token_command": "get"}, {"subject_token_file": None, "subject_token_env": None,
                                            "subject_token_command": "get"}),
    ({"env": "a-b"}, {}, "--subject-token-env takes the NAME"),
    ({"file": "a", "command": "b"}, {}, "--subject-token-file and --subject-token-command both say"),
    ({"command": "  "}, {}, "--subject-token-command is empty"),
]


@pytest.mark.parametrize(("given", "existing", "expected"), SETTINGS)
def test_source_settings(given: dict[str, str], existing: dict[str, str], expected: Any) -> None:
    flags: dict[str, str | None] = {"file": None, "env": None, "command": None, **given}
    before = Profile(name="p", **existing)
    if isinstance(expected, str):
        with pytest.raises(UsageError, match=expected):
            sources.settings("subject_token", "subject-token", flags, before)
        return
    assert sources.settings("subject_token", "subject-token", flags, before) == expected


def test_check_offered() -> None:
    metadata = {"token_endpoint_auth_methods_supported": ["private_key_jwt"]}
    clientauth.check_offered("client_assertion", metadata, "https://x")  # federated counts as private_key_jwt
    clientauth.check_offered("none", metadata, "https://x")
    clientauth.check_offered("client_secret_post", {}, "https://x")  # nothing listed: nothing to check
    with pytest.raises(UsageError, match="does not accept client_secret_basic"):
        clientauth.check_offered("client_secret_basic", metadata, "https://x")
