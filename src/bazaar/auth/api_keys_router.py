"""/api-keys: keys for machine clients (a field node's sync, integrations)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, status

from bazaar.auth import api_keys, service
from bazaar.auth.dependencies import CurrentUser, PasswordUser
from bazaar.auth.errors import (
    ApiKeyNotFound,
    FieldNotAllowed,
    UserNotFound,
)
from bazaar.auth.roles import Role
from bazaar.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Page, Paging
from bazaar.routing import Route

router = APIRouter(prefix="/api-keys", tags=["api keys"], route_class=Route)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(FieldNotAllowed, UserNotFound),
)
async def create_api_key(
    body: ApiKeyCreate, principal: CurrentUser, _: PasswordUser, session: SessionDep
) -> ApiKeyCreated:
    """A key acting as its owner, within its scope. The secret is in this answer only."""
    owner_id = body.owner_id or principal.user_id
    if owner_id != principal.user_id:
        if principal.role != Role.ADMIN:
            raise FieldNotAllowed(details={"fields": ["owner_id"]})
        await service.get_user(session=session, user_id=owner_id)
    expires_in = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    created = await api_keys.create_api_key(
        session=session, owner_id=owner_id, name=body.name, scope=body.scope, expires_in=expires_in
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(created.record).model_dump(), key=created.key)


@router.get("", responses=error_responses())
async def list_api_keys(
    principal: CurrentUser, session: SessionDep, page: Paging, owner_id: uuid.UUID | None = None
) -> Page[ApiKeyRead]:
    """Your keys; admins see everyone's, or one owner's with `owner_id`."""
    if principal.role != Role.ADMIN:
        owner_id = principal.user_id
    keys, total = await api_keys.list_api_keys(
        session=session, owner_id=owner_id, limit=page.limit, offset=page.offset
    )
    return page.of([ApiKeyRead.model_validate(key) for key in keys], total)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(ApiKeyNotFound),
)
async def revoke_api_key(key_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> None:
    """Revoke a key at once (its open WebSockets close too). Your own keys; admins any. Revoking
    twice is harmless; someone else's key is 404."""
    owner = None if principal.role == Role.ADMIN else principal.user_id
    await api_keys.revoke_api_key(session=session, key_id=key_id, owner_id=owner)
