"""Users, refresh-token families, API keys, the database denylist of access tokens, password-reset
tokens and the outbox of messages to users."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.auth.roles import Role, Scope
from bazaar.db import Base, IdMixin, TimestampMixin
from bazaar.sqltypes import UTCDateTime, str_enum
from bazaar.stamps import utcnow


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    # Stored lower-cased, so the unique index is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role", length=16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Access tokens issued before this instant are refused: moving it forward (password change,
    # deactivation, role change) ends every session at once without listing them.
    tokens_valid_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(IdMixin, Base):
    """One refresh token of a login session (its family); only the newest of a family is live."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The family's absolute end, copied onto each token of it.
    family_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_keys"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[Scope] = mapped_column(str_enum(Scope, "scope", length=16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RevokedAccessToken(Base):
    """Denylisted access-token ids, used when no Redis is configured; rows outlive no token."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PasswordResetToken(IdMixin, Base):
    """A single-use token from `POST /auth/password-reset`, stored as its digest only."""

    __tablename__ = "password_reset_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class OutboxMessage(IdMixin, Base):
    """A message to a user as the outbox notifier delivers it: kept for an admin to read and
    pass on, until `expires_at` (when what it says stops working)."""

    __tablename__ = "outbox_messages"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
