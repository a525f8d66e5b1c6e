"""A lease in the database that lets one process among many act as leader.

Works the same on SQLite and PostgreSQL, so embedded and scaled deployments share it: the
holder renews before expiry; anyone may take an expired lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.db import Base
from bazaar.sqltypes import UTCDateTime
from bazaar.stamps import utcnow


class LeaderLease(Base):
    __tablename__ = "leader_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


async def try_acquire(*, session: AsyncSession, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; True when `holder` leads until now + ttl."""
    now = utcnow()
    result = await session.execute(
        update(LeaderLease)
        .where(
            LeaderLease.name == name,
            or_(LeaderLease.holder == holder, LeaderLease.expires_at < now),
        )
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    try:
        async with session.begin_nested():
            session.add(LeaderLease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False  # someone else holds an unexpired lease
    return True


async def release(*, session: AsyncSession, name: str, holder: str) -> None:
    await session.execute(
        update(LeaderLease)
        .where(LeaderLease.name == name, LeaderLease.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
        .execution_options(synchronize_session=False)
    )
