"""Where `whoami --verify` asks, and whether the access token may go there (pure logic; the
real exchanges are in tests/integration/test_oauth_oidc_provider.py)."""

from __future__ import annotations

from typing import Any

import pytest

from authcli.commands.whoami import verify_target
from authcli.config import Profile
from authcli.errors import UsageError

API = "https://api.example.com"
OAUTH: dict[str, Any] = dict(api_url=API, flow="oauth", client_id="c", issuer="https://sso.example.com/realms/a",
                             token_endpoint="https://sso.example.com/realms/a/token", grant="browser")


@pytest.mark.parametrize(("settings", "target"), [
    (dict(api_url=API), (f"{API}/users/me", "the API", None)),
    (dict(OAUTH), (f"{API}/users/me", "the API", None)),  # no userinfo endpoint known
    (dict(OAUTH, userinfo_endpoint="https://sso.example.com/realms/a/userinfo"),
     ("https://sso.example.com/realms/a/userinfo", "the provider", "https://sso.example.com:443")),
    (dict(OAUTH, issuer=None, userinfo_endpoint="https://sso.example.com/userinfo"),  # the token endpoint's origin
     ("https://sso.example.com/userinfo", "the provider", "https://sso.example.com:443")),
    (dict(OAUTH, grant="client-credentials", userinfo_endpoint="https://sso.example.com/userinfo"),
     (f"{API}/users/me", "the API", None)),  # no user to ask about
    (dict(OAUTH, userinfo_endpoint="https://elsewhere.example.net/userinfo"), UsageError),
], ids=["json profile", "oauth without userinfo", "userinfo at the issuer", "userinfo at the token endpoint",
        "client credentials", "userinfo on another origin"])
def test_verify_target(settings: dict[str, Any], target: Any) -> None:
    profile = Profile(name="p", **settings)
    if target is UsageError:
        with pytest.raises(UsageError, match="will not send the token there"):
            verify_target(profile)
    else:
        assert verify_target(profile) == target
