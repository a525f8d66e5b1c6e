"""The hub's side of a pull: its change log after a cursor, in the caller's scope, without
what came from the pulling node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import Database, unit_of_work
from bazaar.events import EventBus
from bazaar.sync.compaction import horizon
from bazaar.sync.items import row_payload
from bazaar.sync.models import ChangeLog
from bazaar.sync.peers import touch_peer
from bazaar.sync.users import replica_users


@dataclass
class Page:
    changes: list[dict[str, Any]]
    next_cursor: int
    has_more: bool
    users: list[dict[str, Any]]
    reset: bool = False


async def changes_since(
    *,
    session: AsyncSession,
    principal: Principal,
    node_id: str,
    since: int,
    limit: int,
    full: bool = False,
) -> Page:
    """A page of the change log after `since`, without the node's own changes and without
    rows outside the caller's portfolio. The cursor advances over what was filtered out too,
    and the page is read in one statement so a late commit is never skipped. A cursor behind
    the compaction horizon gets an empty page with `reset`; `full` pages (a bootstrap) keep
    the node's own changes too."""
    if 0 < since < await horizon(session=session):
        return Page(changes=[], next_cursor=0, has_more=True, users=[], reset=True)
    scanned = (
        (
            await session.execute(
                select(ChangeLog).where(ChangeLog.seq > since).order_by(ChangeLog.seq).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    admin = principal.role is Role.ADMIN
    visible = [
        entry
        for entry in scanned
        if (full or entry.origin_node != node_id) and (admin or entry.owner_id == principal.user_id)
    ]
    next_cursor = scanned[-1].seq if scanned else since
    changes = [row_payload(entry) for entry in visible]
    return Page(
        changes=changes,
        next_cursor=next_cursor,
        has_more=len(scanned) == limit,
        users=await replica_users(session=session, principal=principal, changes=changes),
    )


async def record_pull(
    *, db: Database, events: EventBus, principal: Principal, node_id: str, cursor: int
) -> None:
    """Note the node's acknowledged cursor in a short write transaction of its own: a pull
    is a GET, whose own transaction only reads (on SQLite it could not wait for the lock)."""
    async with unit_of_work(db, events) as session:
        await touch_peer(session=session, node_id=node_id, principal=principal, cursor=cursor)
