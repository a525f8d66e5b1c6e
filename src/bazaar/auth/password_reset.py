"""Forgotten passwords, self-service: `request_reset` issues a single-use token that works for
`auth_password_reset_minutes` and hands it to the notifier; `reset_password` spends it on a new
password and ends every session. Only the token's digest is stored."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.models import OutboxMessage, PasswordResetToken, User
from bazaar.auth.notifier import Notice, Notifier
from bazaar.auth.opaque_tokens import hash_secret
from bazaar.auth.service import find_user_by_email, set_password_hash
from bazaar.stamps import utcnow

RESET_TOKEN_PREFIX = "bzr_pr_"  # noqa: S105 - a prefix, not a secret
CONFIRM_PATH = "/api/v1/auth/password-reset/confirm"


def new_reset_token() -> str:
    return RESET_TOKEN_PREFIX + secrets.token_urlsafe(32)


async def request_reset(
    *, session: AsyncSession, notifier: Notifier, email: str, lifetime: timedelta
) -> None:
    """Nothing happens for an unknown or inactive account, and the caller cannot tell."""
    user = await find_user_by_email(session=session, email=email)
    if user is None or not user.is_active:
        return
    token = new_reset_token()
    expires_at = utcnow() + lifetime
    session.add(
        PasswordResetToken(user_id=user.id, token_hash=hash_secret(token), expires_at=expires_at)
    )
    minutes = int(lifetime.total_seconds() // 60)
    body = (
        f"Someone asked to reset the Bazaar password of {user.email}. If it was you, send\n"
        f'POST {CONFIRM_PATH} {{"token": "{token}", "new_password": "..."}}\n'
        f"within {minutes} minutes; the token works once. Every session then ends.\n"
        "If it was not you, ignore this message: the password stays as it is."
    )
    notice = Notice(
        user_id=user.id,
        recipient=user.email,
        kind="password_reset",
        subject="Reset your Bazaar password",
        body=body,
        expires_at=expires_at,
    )
    await notifier.send(session=session, notice=notice)


def _live(token: str) -> list[ColumnElement[bool]]:
    return [
        PasswordResetToken.token_hash == hash_secret(token),
        PasswordResetToken.used_at.is_(None),
        PasswordResetToken.expires_at > utcnow(),
    ]


async def token_is_live(*, session: AsyncSession, token: str) -> bool:
    """Checked before the new password is hashed, so a wrong token costs no argon2 work."""
    found = await session.scalar(select(PasswordResetToken.id).where(*_live(token)))
    return found is not None


async def reset_password(*, session: AsyncSession, token: str, password_hash: str) -> bool:
    """Spend the token on the new password; false when it is not live (or its user is
    inactive). The UPDATE is conditional, so of two concurrent uses exactly one succeeds."""
    used = await session.execute(
        update(PasswordResetToken)
        .where(*_live(token))
        .values(used_at=utcnow())
        .returning(PasswordResetToken.user_id)
    )
    user_id = used.scalar_one_or_none()
    if user_id is None:
        return False
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return False
    await set_password_hash(
        session=session, user=user, password_hash=password_hash, reason="password_reset"
    )
    return True


async def purge_expired(*, session: AsyncSession, before: datetime) -> None:
    """Reset tokens and outbox messages that expired before `before` help nobody any more."""
    await session.execute(delete(PasswordResetToken).where(PasswordResetToken.expires_at < before))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.expires_at < before))
