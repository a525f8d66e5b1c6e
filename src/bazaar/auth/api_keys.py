"""API keys for machine clients: random, shown once, stored as a digest, acting as their owner.

A key acts with its owner's role at the time of the request, so a key must not outlive the role
it was issued for: changing the owner's role or deactivating them revokes their keys, and new
ones have to be issued (reactivation brings none back).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.errors import ApiKeyNotFound
from bazaar.auth.events import ApiKeyRevoked
from bazaar.auth.models import ApiKey
from bazaar.auth.opaque_tokens import hash_secret, new_api_key
from bazaar.auth.roles import Scope
from bazaar.events import record_event
from bazaar.pagination import fetch_page
from bazaar.stamps import utcnow


@dataclass(frozen=True)
class CreatedApiKey:
    record: ApiKey
    key: str


async def create_api_key(
    *,
    session: AsyncSession,
    owner_id: uuid.UUID,
    name: str,
    scope: Scope,
    expires_in: timedelta | None,
) -> CreatedApiKey:
    secret = new_api_key()
    record = ApiKey(
        owner_id=owner_id,
        name=name,
        prefix=secret.prefix,
        key_hash=hash_secret(secret.key),
        scope=scope,
        expires_at=utcnow() + expires_in if expires_in is not None else None,
    )
    session.add(record)
    await session.flush()
    return CreatedApiKey(record=record, key=secret.key)


async def list_api_keys(
    *, session: AsyncSession, owner_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[ApiKey], int]:
    where = [] if owner_id is None else [ApiKey.owner_id == owner_id]
    query = select(ApiKey).where(*where).order_by(ApiKey.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def revoke_api_key(
    *, session: AsyncSession, key_id: uuid.UUID, owner_id: uuid.UUID | None
) -> None:
    """Revoke a key; with `owner_id`, only that owner's (anyone else's answers 404)."""
    record = await session.get(ApiKey, key_id)
    if record is None or (owner_id is not None and record.owner_id != owner_id):
        raise ApiKeyNotFound
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        await session.flush()
        # After commit, realtime closes the sockets that were opened with this key.
        record_event(
            session,
            ApiKeyRevoked(user_id=str(record.owner_id), api_key_id=str(record.id)),
        )


async def revoke_owner_keys(*, session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Revoke every live key of `owner_id` (a role change, a deactivation)."""
    revoked = await session.execute(
        update(ApiKey)
        .where(ApiKey.owner_id == owner_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiKey.id)
    )
    for key_id in revoked.scalars():
        record_event(
            session,
            ApiKeyRevoked(user_id=str(owner_id), api_key_id=str(key_id)),
        )
