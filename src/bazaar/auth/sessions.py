"""Login sessions: an access token plus a family of single-use refresh tokens (RFC 9700 §4.14.2).

Each refresh retires the presented token and returns a new pair of the same family. Presenting a
retired token means it was copied: the whole family is revoked, the thief's and the owner's
tokens alike. Families end after an absolute lifetime, and sooner when unused for the idle time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.access_tokens import AccessClaims, issue_access_token
from bazaar.auth.context import AuthContext
from bazaar.auth.events import RefreshTokenReused, SessionEnded
from bazaar.auth.models import RefreshToken, User
from bazaar.auth.opaque_tokens import hash_secret, new_refresh_token
from bazaar.auth.revocation import denylist_access_token, revoke_family
from bazaar.auth.roles import Role
from bazaar.events import record_event
from bazaar.stamps import new_id, utcnow


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


async def start_session(*, session: AsyncSession, context: AuthContext, user: User) -> TokenPair:
    now = utcnow()
    family_id = new_id()
    days = context.settings.auth_refresh_token_days
    return await _issue_pair(
        session=session,
        context=context,
        user_id=user.id,
        role=user.role,
        family_id=family_id,
        family_expires_at=now + timedelta(days=days),
        now=now,
    )


async def _issue_pair(
    *,
    session: AsyncSession,
    context: AuthContext,
    user_id: uuid.UUID,
    role: Role,
    family_id: uuid.UUID,
    family_expires_at: datetime,
    now: datetime,
) -> TokenPair:
    refresh_token = new_refresh_token()
    idle_expires_at = now + timedelta(days=context.settings.auth_refresh_idle_days)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=hash_secret(refresh_token),
            created_at=now,
            family_expires_at=family_expires_at,
            idle_expires_at=min(idle_expires_at, family_expires_at),
        )
    )
    await session.flush()
    access = issue_access_token(
        context.tokens, user_id=user_id, role=role, session_id=family_id, now=now
    )
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh_token,
        expires_in=int(context.tokens.access_ttl.total_seconds()),
    )


async def rotate(
    *, session: AsyncSession, context: AuthContext, refresh_token: str
) -> TokenPair | None:
    """The next pair, or None when the token is unknown, expired, revoked or reused.

    None may come with writes (revoking a family on reuse) that the caller must commit before
    it answers 401. The retiring UPDATE is conditional, so of concurrent refreshes with one
    token exactly one matches a row; the others see a retired token.
    """
    now = utcnow()
    token_hash = hash_secret(refresh_token)
    retired = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.idle_expires_at > now,
            RefreshToken.family_expires_at > now,
        )
        .values(rotated_at=now)
        .returning(RefreshToken.user_id, RefreshToken.family_id, RefreshToken.family_expires_at)
    )
    row = retired.one_or_none()
    if row is None:
        await _revoke_if_reused(session=session, token_hash=token_hash)
        return None
    user_id, family_id, family_expires_at = row
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        await revoke_family(session=session, family_id=family_id)
        return None
    return await _issue_pair(
        session=session,
        context=context,
        user_id=user.id,
        role=user.role,
        family_id=family_id,
        family_expires_at=family_expires_at,
        now=now,
    )


async def _revoke_if_reused(*, session: AsyncSession, token_hash: str) -> None:
    presented = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    )
    if presented is None or presented.rotated_at is None or presented.revoked_at is not None:
        return
    await revoke_family(session=session, family_id=presented.family_id)
    record_event(
        session,
        RefreshTokenReused(user_id=str(presented.user_id), session_id=str(presented.family_id)),
    )


async def end_session(*, session: AsyncSession, context: AuthContext, claims: AccessClaims) -> None:
    """Logout: the session's refresh tokens and this access token stop working now."""
    await revoke_family(session=session, family_id=claims.session_id)
    await denylist_access_token(session=session, redis=context.redis, claims=claims)
    record_event(
        session,
        SessionEnded(user_id=str(claims.user_id), session_id=str(claims.session_id)),
    )
