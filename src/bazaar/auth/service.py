"""Users: create, find, change, deactivate. Passwords are hashed before any query runs, so the
slow argon2 work never happens inside a write transaction (SQLite has a single writer)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.api_keys import revoke_owner_keys
from bazaar.auth.context import argon2_params, password_hasher
from bazaar.auth.errors import EmailTaken, UserNotFound
from bazaar.auth.models import PasswordResetToken, User
from bazaar.auth.passwords import PasswordHasher, check_password_policy
from bazaar.auth.revocation import end_all_sessions
from bazaar.auth.roles import Role
from bazaar.config import get_settings
from bazaar.db import Reader
from bazaar.errors import InvalidInputError
from bazaar.pagination import fetch_page
from bazaar.stamps import utcnow


class WeakPassword(InvalidInputError):
    code = "weak_password"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def default_hasher() -> PasswordHasher:
    return password_hasher(argon2_params(get_settings()))


async def create_user(
    *,
    session: AsyncSession,
    email: str,
    password: str,
    full_name: str,
    role: Role,
    phone: str | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    password_hash = await hash_new_password(password, hasher=hasher)
    email = normalize_email(email)
    if await find_user_by_email(session=session, email=email) is not None:
        raise EmailTaken
    user = User(
        email=email, full_name=full_name, phone=phone, role=role, password_hash=password_hash
    )
    session.add(user)
    await session.flush()
    return user


async def hash_new_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """The hash of a password that passes the policy (WeakPassword otherwise), computed before
    any query so that no write transaction waits on argon2."""
    try:
        check_password_policy(password)
    except ValueError as exc:
        raise WeakPassword(str(exc)) from exc
    return await (hasher or default_hasher()).hash(password)


async def find_user_by_email(*, session: AsyncSession, email: str) -> User | None:
    user: User | None = await session.scalar(
        select(User).where(User.email == normalize_email(email))
    )
    return user


async def get_user(*, session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound
    return user


# Built once: building the statement cost about as much as running it.
_PROFILE = select(
    User.id,
    User.email,
    User.full_name,
    User.phone,
    User.role,
    User.is_active,
    User.created_at,
    User.updated_at,
).where(User.id == bindparam("user_id", type_=Uuid()))


async def read_profile(*, session: Reader, user_id: uuid.UUID) -> dict[str, Any]:
    """The public fields of a user, selected as columns: `/auth/me` is read on every page
    load, and an ORM object costs about as much again as the query (DESIGN.md §9)."""
    row = (await session.execute(_PROFILE, {"user_id": user_id})).one_or_none()
    if row is None:
        raise UserNotFound
    return dict(row._mapping)


@dataclass(frozen=True)
class UserPage:
    items: Sequence[User]
    total: int


async def list_users(
    *,
    session: AsyncSession,
    role: Role | None = None,
    is_active: bool | None = None,
    search: str | None = None,
    limit: int,
    offset: int,
) -> UserPage:
    conditions = []
    if role is not None:
        conditions.append(User.role == role)
    if is_active is not None:
        conditions.append(User.is_active.is_(is_active))
    if search:
        needle = search.lower()
        conditions.append(
            or_(
                User.email.contains(needle, autoescape=True),
                func.lower(User.full_name).contains(needle, autoescape=True),
            )
        )
    query = select(User).where(*conditions).order_by(User.id)
    items, total = await fetch_page(session, query, limit=limit, offset=offset)
    return UserPage(items=items, total=total)


async def update_profile(
    *, session: AsyncSession, user: User, full_name: str | None, phone: str | None
) -> User:
    if full_name is not None:
        user.full_name = full_name
    if phone is not None:
        user.phone = phone
    await session.flush()
    return user


async def set_role(*, session: AsyncSession, user: User, role: Role) -> User:
    """A new role ends the user's sessions and revokes their API keys: none of them may go on
    acting with a role it was not issued for."""
    if user.role != role:
        user.role = role
        await end_all_sessions(session=session, user=user, reason="role_changed")
        await revoke_owner_keys(session=session, owner_id=user.id)
    return user


async def set_active(*, session: AsyncSession, user: User, is_active: bool) -> User:
    if user.is_active != is_active:
        user.is_active = is_active
        if not is_active:
            await end_all_sessions(session=session, user=user, reason="deactivated")
            # Reactivation must not bring the old keys back.
            await revoke_owner_keys(session=session, owner_id=user.id)
        await session.flush()
    return user


async def set_password_hash(
    *, session: AsyncSession, user: User, password_hash: str, reason: str = "password_changed"
) -> None:
    """Every session ends, and so does every reset token still pending for the old password."""
    user.password_hash = password_hash
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    await end_all_sessions(session=session, user=user, reason=reason)


async def set_password_by_email(
    *, session: AsyncSession, email: str, password_hash: str, reason: str
) -> User:
    user = await find_user_by_email(session=session, email=email)
    if user is None:
        raise UserNotFound
    await set_password_hash(session=session, user=user, password_hash=password_hash, reason=reason)
    return user
