"""django-oauth-toolkit as a real OAuth 2.0 authorization server for the tests, on loopback.

    python tests/servers/dot_server.py [--access-ttl SECONDS]

Prints one JSON line once listening: {"url", "password_client", "cc_client", "cc_secret",
"device_client", "code_client", "username", "password"}. Refresh tokens rotate and reuse revokes the family
(REFRESH_TOKEN_REUSE_PROTECTION, no grace period). Besides DOT's /o/token/ and
/o/revoke_token/ it serves GET /api/me (a protected resource) and GET /_stats (token
endpoint answers counted by grant type and status). Not part of authcli: a test fixture.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import tempfile
import threading
from collections import Counter
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

USERNAME, PASSWORD = "alice", "alice-password"


def configure(db_path: str, access_ttl: int) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_hex(32),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "oauth2_provider"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path,
                               "OPTIONS": {"timeout": 30}}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        OAUTH2_PROVIDER={
            "ACCESS_TOKEN_EXPIRE_SECONDS": access_ttl,
            "ROTATE_REFRESH_TOKEN": True,
            "REFRESH_TOKEN_REUSE_PROTECTION": True,
            "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
            "PKCE_REQUIRED": False,
            "ALWAYS_RELOAD_OAUTHLIB_CORE": True,  # so /_admin/access_ttl takes effect at once
            "DEVICE_FLOW_INTERVAL": 1,
            "OAUTH_DEVICE_VERIFICATION_URI": "http://127.0.0.1/o/device",
        },
    )
    django.setup()


def me(request: Any) -> Any:
    from django.http import JsonResponse
    from oauth2_provider.oauth2_backends import get_oauthlib_core

    valid, r = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        return JsonResponse({"error": "invalid_token"}, status=401)
    return JsonResponse({"username": r.user.username if r.user else None, "client_id": r.client.client_id})


STATS: Counter[str] = Counter()
STATS_LOCK = threading.Lock()


def access_ttl(request: Any) -> Any:
    """POST /_admin/access_ttl?seconds=N: the lifetime of access tokens issued from now on."""
    from django.http import JsonResponse
    from oauth2_provider.settings import oauth2_settings

    oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS = int(request.GET["seconds"])
    return JsonResponse({"access_ttl": oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS})


def device(request: Any) -> Any:
    """POST /_admin/device?user_code=X&action=approve|deny|expire: the user's answer, without a
    browser (DOT's own confirmation page needs a logged-in browser session)."""
    from django.contrib.auth.models import User
    from django.http import JsonResponse
    from oauth2_provider.models import get_device_grant_model

    grant = get_device_grant_model().objects.get(user_code=request.GET["user_code"])
    action = request.GET["action"]
    if action == "approve":
        grant.status, grant.user = grant.AUTHORIZED, User.objects.get(username=USERNAME)
    else:
        grant.status = grant.DENIED if action == "deny" else grant.EXPIRED
    grant.save()
    return JsonResponse({"status": grant.status})


def login_alice(request: Any) -> Any:
    """GET /_login: a browser session for alice (stands in for the provider's login page)."""
    from django.contrib.auth import login
    from django.contrib.auth.models import User
    from django.http import JsonResponse

    login(request, User.objects.get(username=USERNAME), backend="django.contrib.auth.backends.ModelBackend")
    return JsonResponse({"logged_in": USERNAME})


def stats(request: Any) -> Any:
    from django.http import JsonResponse

    with STATS_LOCK:
        return JsonResponse(dict(STATS))


def _urls() -> list[Any]:
    from django.urls import include, path

    return [
        path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
        path("api/me", me),
        path("_stats", stats),
        path("_admin/access_ttl", access_ttl),
        path("_admin/device", device),
        path("_login", login_alice),
    ]


def counting(app: Any) -> Any:
    """Count token endpoint answers as '<grant_type>:<status>'."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/o/token/" or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        grant = parse_qs(body.decode()).get("grant_type", ["?"])[0]

        def counting_start(status: str, headers: Any, *rest: Any) -> Any:
            with STATS_LOCK:
                STATS[f"{grant}:{status.split()[0]}"] += 1
            return start_response(status, headers, *rest)

        return app(environ, counting_start)

    return wrapped


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--access-ttl", type=int, default=60)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="dot-")
    configure(os.path.join(home, "db.sqlite3"), args.access_ttl)
    global urlpatterns
    urlpatterns = _urls()

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user(USERNAME, password=PASSWORD)
    password_app = Application.objects.create(
        name="authcli password", client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_PASSWORD, user=user)
    cc_secret = secrets.token_urlsafe(24)
    cc_app = Application.objects.create(
        name="authcli service", client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret=cc_secret,
        hash_client_secret=True, user=user)

    device_app = Application.objects.create(
        name="authcli device", client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_DEVICE_CODE, user=user)

    code_app = Application.objects.create(
        name="authcli browser", client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE, user=user,
        redirect_uris="http://127.0.0.1/callback", skip_authorization=True)

    httpd = make_server("127.0.0.1", 0, counting(get_wsgi_application()), server_class=Server,
                        handler_class=QuietHandler)
    sys.stdout.write(json.dumps({
        "url": f"http://127.0.0.1:{httpd.server_address[1]}",
        "password_client": password_app.client_id,
        "cc_client": cc_app.client_id,
        "cc_secret": cc_secret,
        "device_client": device_app.client_id,
        "code_client": code_app.client_id,
        "username": USERNAME,
        "password": PASSWORD,
    }) + "\n")
    sys.stdout.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


urlpatterns: list[Any] = []

if __name__ == "__main__":
    sys.exit(main())
