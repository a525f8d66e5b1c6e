"""Ending sessions: refresh-token families, the access-token denylist and `tokens_valid_after`.

Access tokens are denylisted by `jti` until they would have expired anyway: in Redis when it is
configured (shared by every worker, expiring by itself), else in the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.access_tokens import AccessClaims
from bazaar.auth.events import SessionsEnded
from bazaar.auth.models import RefreshToken, RevokedAccessToken, User
from bazaar.events import record_event
from bazaar.stamps import utcnow

_DENYLIST_KEY = "bazaar:auth:revoked-jti:"


async def is_denylisted_in_redis(redis: Redis, jti: str) -> bool:
    return bool(await redis.exists(_DENYLIST_KEY + jti))


async def denylist_access_token(
    *, session: AsyncSession, redis: Redis | None, claims: AccessClaims
) -> None:
    if redis is None:
        session.add(RevokedAccessToken(jti=claims.jti, expires_at=claims.expires_at))
        await session.flush()
        return
    # Kept a minute past expiry so leeway on the clock never lets it back in.
    await redis.set(_DENYLIST_KEY + claims.jti, b"1", exat=int(claims.expires_at.timestamp()) + 60)


async def revoke_family(*, session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def end_all_sessions(*, session: AsyncSession, user: User, reason: str) -> None:
    """Refuse every access token issued so far and retire every refresh token of the user."""
    now = utcnow()
    user.tokens_valid_after = now
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.flush()
    record_event(session, SessionsEnded(user_id=str(user.id), reason=reason))


async def purge_expired(*, session: AsyncSession, before: datetime) -> None:
    """Drop denylist entries and refresh tokens that can no longer be presented anyway.

    `before` must lie at least the clock leeway in the past: a token within leeway of its
    expiry is still accepted, so its denylist entry must still be there.
    """
    await session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < before))
    await session.execute(delete(RefreshToken).where(RefreshToken.family_expires_at < before))
