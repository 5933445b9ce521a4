"""The dev server's token bookkeeping: users, rotating refresh-token families, reuse detection.

Kept apart from the HTTP layer so the rotation rules can be read (and unit-tested) alone.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DEMO_USERS = {
    "alice@example.com": {"password": "alice-password", "name": "Alice Example", "id": "u-alice"},
    "bob@example.com": {"password": "bob-password", "name": "Bob Example", "id": "u-bob"},
}


@dataclass
class Settings:
    access_ttl: float = 60.0
    refresh_ttl: float = 86400.0
    clock_skew: float = 0.0
    refresh_delay: float = 0.0
    send_expires_in: bool = True
    revoke_on_refresh: bool = False  # older access tokens of a family stop working after a refresh
    token_style: str = "camel"  # or "snake"
    # OAuth (oauth.py): client ID -> {"secret"} | {"jwks"} | {"public_key"}, optionally "issuer",
    # "subject", "audience" (what a federated assertion carries instead of the client ID), "public"
    clients: dict[str, Any] = field(default_factory=dict)
    subject_jwks: dict[str, Any] | None = None  # the "CI issuer" whose tokens may be exchanged
    auth_methods: list[str] | None = None  # discovery's token_endpoint_auth_methods_supported
    grant_types: list[str] | None = None  # discovery's grant_types_supported
    exchange_delay: float = 0.0


@dataclass
class RefreshEntry:
    family: str
    user: str
    expires: float
    used: bool = False


@dataclass
class Family:
    user: str
    revoked: bool = False
    generation: int = 0


class Rejected(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "message": description}


@dataclass
class State:
    settings: Settings = field(default_factory=Settings)
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    access_generation: int = 0
    refresh_tokens: dict[str, RefreshEntry] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "logins": 0,
            "login_failures": 0,
            "refresh_requests": 0,
            "refresh_attempts": 0,
            "refreshes": 0,
            "refresh_rejections": 0,
            "reuse_detections": 0,
            "logouts": 0,
            "api_requests": 0,
            "api_unauthorized": 0,
            "token_requests": 0,
            "client_credentials": 0,
            "exchange_requests": 0,
            "token_exchanges": 0,
            "exchange_rejections": 0,
            "client_assertions": 0,
            "client_auth_failures": 0,
            "assertion_replays": 0,
        }
    )
    token_requests: list[dict[str, Any]] = field(default_factory=list)  # oauth.py: what each asked, no tokens
    seen_jtis: set[str] = field(default_factory=set)
    faults: list[dict[str, Any]] = field(default_factory=list)
    seen_authorization: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.time() + self.settings.clock_skew

    def count(self, name: str) -> None:
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    # -- issuing -----------------------------------------------------------------

    def _issue(self, user: str, family: str) -> dict[str, Any]:
        import jwt

        now = self.now()
        info = DEMO_USERS[user]
        access = jwt.encode(
            {
                "sub": info["id"],
                "email": user,
                "name": info["name"],
                "iat": int(now),
                "exp": int(now + self.settings.access_ttl),
                "jti": secrets.token_hex(8),
                "fam": family,
                "gen": self.access_generation,
                "fgen": self.families[family].generation,
            },
            self.secret,
            algorithm="HS256",
        )
        refresh = "rt_" + secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = RefreshEntry(family=family, user=user, expires=now + self.settings.refresh_ttl)
        if self.settings.token_style == "snake":
            body: dict[str, Any] = {"access_token": access, "refresh_token": refresh, "token_type": "Bearer"}
            if self.settings.send_expires_in:
                body["expires_in"] = int(self.settings.access_ttl)
        else:
            body = {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer"}
            if self.settings.send_expires_in:
                body["expiresIn"] = int(self.settings.access_ttl)
        return body

    def issue_oauth(self, subject: str, email: Any, issued_token_type: str | None = None) -> dict[str, Any]:
        """An OAuth answer (snake case, no refresh token) for a client or an exchanged subject."""
        import jwt

        with self.lock:
            family = secrets.token_hex(8)
            self.families[family] = Family(user=email if isinstance(email, str) else subject)
            now = self.now()
            claims = {"sub": subject, "iat": int(now), "exp": int(now + self.settings.access_ttl),
                      "jti": secrets.token_hex(8), "fam": family, "gen": self.access_generation, "fgen": 0}
            if isinstance(email, str):
                claims["email"] = email
            body: dict[str, Any] = {"access_token": jwt.encode(claims, self.secret, algorithm="HS256"),
                                    "token_type": "Bearer"}
        if self.settings.send_expires_in:
            body["expires_in"] = int(self.settings.access_ttl)
        if issued_token_type:
            body["issued_token_type"] = issued_token_type
        return body

    def login(self, email: Any, password: Any) -> dict[str, Any]:
        user = DEMO_USERS.get(email) if isinstance(email, str) else None
        if user is None or user["password"] != password:
            self.count("login_failures")
            raise Rejected(401, "invalid_credentials", "wrong email or password")
        with self.lock:
            family = secrets.token_hex(8)
            self.families[family] = Family(user=email)
            self.stats["logins"] += 1
            return self._issue(email, family)

    def refresh(self, token: Any) -> dict[str, Any]:
        with self.lock:
            self.stats["refresh_attempts"] += 1
            entry = self.refresh_tokens.get(token) if isinstance(token, str) else None
            if entry is None:
                self.stats["refresh_rejections"] += 1
                raise Rejected(400, "invalid_grant", "unknown refresh token")
            family = self.families[entry.family]
            if entry.used:
                # A spent token presented again: someone has a copy. Revoke the whole family.
                family.revoked = True
                self.stats["reuse_detections"] += 1
                self.stats["refresh_rejections"] += 1
                raise Rejected(400, "invalid_grant", "refresh token reuse detected; session revoked")
            if family.revoked or entry.expires < self.now():
                self.stats["refresh_rejections"] += 1
                raise Rejected(400, "invalid_grant", "refresh token revoked or expired")
            entry.used = True
            if self.settings.revoke_on_refresh:
                family.generation += 1
            self.stats["refreshes"] += 1
            return self._issue(entry.user, entry.family)

    def logout(self, token: Any) -> None:
        with self.lock:
            entry = self.refresh_tokens.get(token) if isinstance(token, str) else None
            if entry is not None:
                self.families[entry.family].revoked = True
            self.stats["logouts"] += 1

    def revoke_access(self) -> None:
        with self.lock:
            self.access_generation += 1

    def check_access(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid access token, or None."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},  # own (skewed) clock below
            )
        except jwt.PyJWTError:
            return None
        with self.lock:
            family = self.families.get(claims.get("fam", ""))
            if (
                family is None
                or family.revoked
                or claims.get("gen") != self.access_generation
                or claims.get("fgen") != family.generation
            ):
                return None
        if claims.get("exp", 0) <= self.now():
            return None
        return claims

    def take_fault(self, target: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault.get("target", "refresh") == target:
                    times = fault.get("times", 1)
                    if times == 0:
                        continue
                    if times > 0:
                        fault["times"] = times - 1
                    return fault
        return None
