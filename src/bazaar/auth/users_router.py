"""/users: admins manage accounts; everyone reads and edits their own profile."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from bazaar.auth import service
from bazaar.auth.dependencies import AdminOnly, AuthContextDep, CurrentUser, PasswordUser
from bazaar.auth.errors import (
    EmailTaken,
    FieldNotAllowed,
    InsufficientRole,
    OwnAccountChange,
    UserNotFound,
)
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.auth.schemas import (
    ProfileUpdate,
    SetPasswordRequest,
    UserCreate,
    UserRead,
    UserUpdate,
)
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Page, Paging
from bazaar.routing import Route
from bazaar.text import Line

router = APIRouter(prefix="/users", tags=["users"], route_class=Route)

_ADMIN_FIELDS = frozenset({"role", "is_active"})


def _ensure_self_or_admin(principal: Principal, user_id: uuid.UUID) -> None:
    if principal.role != Role.ADMIN and principal.user_id != user_id:
        raise InsufficientRole


@router.get("", responses=error_responses())
async def list_users(
    _: AdminOnly,
    session: SessionDep,
    page: Paging,
    role: Role | None = None,
    is_active: bool | None = None,
    q: Annotated[Line | None, Query(max_length=100, description="Email or name contains")] = None,
) -> Page[UserRead]:
    """Admins: every account, filtered by `role`, `is_active` and `q` (email or name contains),
    a page at a time. How an admin finds an officer's id."""
    found = await service.list_users(
        session=session,
        role=role,
        is_active=is_active,
        search=q,
        limit=page.limit,
        offset=page.offset,
    )
    return page.of([UserRead.model_validate(user) for user in found.items], found.total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(EmailTaken),
)
async def create_user(
    body: UserCreate, _: AdminOnly, session: SessionDep, context: AuthContextDep
) -> UserRead:
    """Admins create staff (and node machine accounts); customers sign up themselves."""
    user = await service.create_user(
        session=session,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        phone=body.phone,
        role=body.role,
        hasher=context.hasher,
    )
    return UserRead.model_validate(user)


@router.get("/me", responses=error_responses())
async def read_me(principal: CurrentUser, session: SessionDep) -> UserRead:
    """The signed-in user's own profile (the same as GET /auth/me)."""
    return UserRead.model_validate(
        await service.read_profile(session=session, user_id=principal.user_id)
    )


@router.get("/profile", responses=error_responses())
async def read_profile(principal: CurrentUser, session: SessionDep) -> UserRead:
    """The caller's profile, under the path the original shop used (as GET /users/me)."""
    return await read_me(principal, session)


@router.put("/profile", responses=error_responses())
async def update_profile(
    body: ProfileUpdate, principal: CurrentUser, session: SessionDep
) -> UserRead:
    """Changes the caller's own name and phone."""
    user = await service.get_user(session=session, user_id=principal.user_id)
    await service.update_profile(
        session=session, user=user, full_name=body.full_name, phone=body.phone
    )
    return UserRead.model_validate(user)


@router.get("/{user_id}", responses=error_responses(InsufficientRole, UserNotFound))
async def read_user(user_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> UserRead:
    """One account: admins read anyone, everyone else only themselves (403 otherwise)."""
    _ensure_self_or_admin(principal, user_id)
    return UserRead.model_validate(await service.read_profile(session=session, user_id=user_id))


@router.put(
    "/{user_id}",
    responses=error_responses(InsufficientRole, UserNotFound, FieldNotAllowed, OwnAccountChange),
)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, principal: CurrentUser, session: SessionDep
) -> UserRead:
    """Yourself: name and phone. Admins also set others' role and active flag; a role change or
    deactivation ends that user's sessions at once."""
    _ensure_self_or_admin(principal, user_id)
    changes = body.model_dump(exclude_unset=True)
    admin_fields = sorted(_ADMIN_FIELDS & changes.keys())
    if admin_fields and principal.role != Role.ADMIN:
        raise FieldNotAllowed(details={"fields": admin_fields})
    user = await service.get_user(session=session, user_id=user_id)
    if principal.user_id == user_id and (
        changes.get("role", user.role) != user.role or changes.get("is_active") is False
    ):
        raise OwnAccountChange
    await service.update_profile(
        session=session, user=user, full_name=body.full_name, phone=body.phone
    )
    if body.role is not None:
        await service.set_role(session=session, user=user, role=body.role)
    if body.is_active is not None:
        await service.set_active(session=session, user=user, is_active=body.is_active)
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(UserNotFound, OwnAccountChange),
)
async def deactivate_user(user_id: uuid.UUID, principal: AdminOnly, session: SessionDep) -> None:
    """Deactivates and signs out; the account and its history stay."""
    if principal.user_id == user_id:
        raise OwnAccountChange
    user = await service.get_user(session=session, user_id=user_id)
    await service.set_active(session=session, user=user, is_active=False)


@router.post(
    "/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(UserNotFound),
)
async def set_password(
    user_id: uuid.UUID,
    body: SetPasswordRequest,
    _: AdminOnly,
    __: PasswordUser,
    session: SessionDep,
    context: AuthContextDep,
) -> None:
    """An admin sets a user's forgotten password; every session of that user ends at once.
    Signed in with a password only: an API key cannot take over accounts."""
    password_hash = await context.hasher.hash(body.new_password)
    user = await service.get_user(session=session, user_id=user_id)
    await service.set_password_hash(
        session=session, user=user, password_hash=password_hash, reason="password_reset"
    )
