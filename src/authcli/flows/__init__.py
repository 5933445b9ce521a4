"""How a session is obtained, refreshed and ended.

The refresh engine (session.py) only knows the ``Flow`` interface and the three refresh
outcomes below; which protocol produced a session is the flow's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..errors import AuthcliError, AuthError, NetworkError

if TYPE_CHECKING:
    from ..tokens import TokenRecord


class RefreshRejected(AuthcliError):
    """The server's verdict that the grant is dead (RFC 6749 5.2 ``invalid_grant``): the session is over."""


class RefreshRefused(AuthError):
    """The server refused this attempt for another reason (invalid_client, invalid_dpop_proof, a
    nonce still wanted, an unknown 400/401): no verdict on the grant, so the session is kept."""


class RefreshTransient(NetworkError):
    """Connection error, timeout, 408, 429 or 5xx: worth one replay, never a reason to log out."""


class RefreshMalformed(NetworkError):
    """An answer that is not the protocol (not JSON, no access token): keep the tokens."""


class Flow(Protocol):
    def login(self, user: str | None, password: str | None, secret: str | None = None) -> TokenRecord: ...

    def can_renew(self, record: TokenRecord) -> bool:
        """Whether refresh() can get a new access token for this record (a refresh token, or
        a grant such as client credentials that simply asks again)."""
        ...

    def refresh(self, record: TokenRecord) -> TokenRecord: ...

    def logout(self, record: TokenRecord) -> None: ...
