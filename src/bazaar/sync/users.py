"""The user rows a field node needs: the officer itself, so they can sign in offline with
their usual password, and stand-ins for every other user its rows refer to (approvers,
recorders), which satisfy foreign keys but can never sign in on the node."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.models import User
from bazaar.auth.principal import Principal
from bazaar.sync import registry
from bazaar.sync.codec import decode, encode

NO_LOGIN = "!"  # never a valid argon2 hash
_COLUMNS = (
    "id",
    "email",
    "full_name",
    "phone",
    "role",
    "is_active",
    "password_hash",
    "tokens_valid_after",
)
_USER_REFERENCES: dict[str, tuple[str, ...]] = {}


def user_references(entity_type: str) -> tuple[str, ...]:
    """Attributes of an entity that point at users.id."""
    if entity_type not in _USER_REFERENCES:
        spec = registry.entity(entity_type)
        names: list[str] = []
        if spec is not None:
            for attr in inspect(spec.model).column_attrs:
                column = attr.columns[0]
                if any(fk.column.table.name == User.__tablename__ for fk in column.foreign_keys):
                    names.append(attr.key)
        _USER_REFERENCES[entity_type] = tuple(names)
    return _USER_REFERENCES[entity_type]


def referenced_user_ids(changes: Iterable[dict[str, Any]]) -> set[uuid.UUID]:
    ids: set[uuid.UUID] = set()
    for change in changes:
        data = change.get("data") or {}
        for name in user_references(change["entity_type"]):
            if data.get(name):
                ids.add(uuid.UUID(data[name]))
    return ids


async def replica_users(
    *, session: AsyncSession, principal: Principal, changes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    wanted = referenced_user_ids(changes) | {principal.user_id}
    columns = [getattr(User, name) for name in _COLUMNS]
    rows = await session.execute(select(*columns).where(User.id.in_(wanted)))
    users = []
    for row in rows:
        user = {name: encode(value) for name, value in zip(_COLUMNS, row, strict=True)}
        if row.id != principal.user_id:
            user["password_hash"] = NO_LOGIN
        users.append(user)
    return users


async def store_replica_users(*, session: AsyncSession, users: list[dict[str, Any]]) -> None:
    """On a node: insert or refresh the users a pull brought."""
    for user in users:
        values = {name: user[name] for name in _COLUMNS}
        values["id"] = decode(uuid.UUID, values["id"])
        values["tokens_valid_after"] = decode(datetime, values["tokens_valid_after"])
        exists = await session.scalar(select(User.id).where(User.id == values["id"]))
        if exists is None:
            await session.execute(insert(User).values(**values))
        elif values["password_hash"] != NO_LOGIN:
            await session.execute(update(User).where(User.id == values["id"]).values(**values))
