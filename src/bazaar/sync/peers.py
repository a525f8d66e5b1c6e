"""The peers a hub knows: each node id belongs to the first user that synced with it, and a
sync key to the first node id that used it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.stamps import utcnow
from bazaar.sync.errors import NodeIdTaken, SyncKeyBound
from bazaar.sync.models import PeerRole, SyncPeer


async def touch_peer(
    *, session: AsyncSession, node_id: str, principal: Principal, cursor: int | None = None
) -> None:
    peer = (
        await session.execute(select(SyncPeer).where(SyncPeer.node_id == node_id))
    ).scalar_one_or_none()
    if peer is None:
        await _check_key_free(session, principal, node_id)
        peer = SyncPeer(
            node_id=node_id,
            role=PeerRole.NODE,
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
        )
        session.add(peer)
    elif peer.user_id != principal.user_id and principal.role is not Role.ADMIN:
        # Origin stamps decide what a node is not sent back: a node id is its first user's.
        raise NodeIdTaken(details={"node_id": node_id})
    elif principal.api_key_id is not None and peer.api_key_id != principal.api_key_id:
        # The node's key was re-issued: the new one becomes its own.
        await _check_key_free(session, principal, node_id)
        peer.api_key_id = principal.api_key_id
    peer.last_seen_at = utcnow()
    if cursor is not None:
        peer.pull_cursor, peer.last_sync_at = cursor, utcnow()
    await session.flush()


async def _check_key_free(session: AsyncSession, principal: Principal, node_id: str) -> None:
    """Two laptops on one key would each be sent the other's changes as their own."""
    if principal.api_key_id is None:
        return
    holder = await session.scalar(
        select(SyncPeer.node_id).where(SyncPeer.api_key_id == principal.api_key_id)
    )
    if holder is not None and holder != node_id:
        raise SyncKeyBound(details={"node_id": node_id})
