"""Auth's after-commit events: each ends credentials, so realtime closes their sockets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bazaar.events import CredentialsEnded


@dataclass(frozen=True, kw_only=True)
class SessionsEnded(CredentialsEnded):
    """Every session of the user (logout everywhere, password or role change, deactivation)."""

    type: ClassVar[str] = "auth.sessions_ended"
    reason: str


@dataclass(frozen=True, kw_only=True)
class SessionEnded(CredentialsEnded):
    """One login session: its logout."""

    type: ClassVar[str] = "auth.session_ended"
    session_id: str

    @property
    def credential(self) -> str | None:
        return self.session_id


@dataclass(frozen=True, kw_only=True)
class RefreshTokenReused(SessionEnded):
    """A retired refresh token came back: its whole login session ends (RFC 9700)."""

    type: ClassVar[str] = "auth.refresh_token_reused"


@dataclass(frozen=True, kw_only=True)
class ApiKeyRevoked(CredentialsEnded):
    type: ClassVar[str] = "auth.api_key_revoked"
    api_key_id: str

    @property
    def credential(self) -> str | None:
        return self.api_key_id


EVENTS = (SessionsEnded, SessionEnded, RefreshTokenReused, ApiKeyRevoked)
