"""Whose a syncable row is: its owning officer, directly or through its parent rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.sync import registry
from bazaar.sync.errors import OutOfScope
from bazaar.sync.registry import SyncEntity


async def owner_of(session: AsyncSession, spec: SyncEntity, row: Any) -> uuid.UUID | None:
    if spec.owner_column is not None:
        owner: uuid.UUID | None = getattr(row, spec.owner_column)
        return owner
    if spec.parent is None:
        return None
    parent_type, column = spec.parent
    parent_spec = registry.entity(parent_type)
    parent_id = getattr(row, column)
    if parent_spec is None or parent_id is None:
        return None
    parent = await session.get(parent_spec.model, parent_id)
    return None if parent is None else await owner_of(session, parent_spec, parent)


async def ensure_in_scope(
    session: AsyncSession, principal: Principal, spec: SyncEntity, row: Any
) -> None:
    if principal.role is Role.ADMIN:
        return
    if await owner_of(session, spec, row) != principal.user_id:
        raise OutOfScope(details={"entity_type": spec.entity_type, "entity_id": str(row.id)})
