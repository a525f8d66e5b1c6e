"""/crm/connections: admins connect external CRMs. Secrets are accepted, never returned."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from bazaar.auth.dependencies import AdminOnly
from bazaar.crm import connections
from bazaar.crm.connection_schemas import (
    ConnectionCheck,
    ConnectionCreate,
    ConnectionRead,
    ConnectionUpdate,
)
from bazaar.crm.errors import ConnectionNameTaken, ConnectionNotFound, StaleVersion
from bazaar.crm.models import CrmConnection
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Page, Paging
from bazaar.routing import Route

router = APIRouter(prefix="/crm/connections", tags=["crm connections"], route_class=Route)


async def _connection(
    connection_id: uuid.UUID, session: SessionDep, principal: AdminOnly
) -> CrmConnection:
    return await connections.get_connection(session=session, connection_id=connection_id)


ConnectionDep = Annotated[CrmConnection, Depends(_connection)]


@router.post("", status_code=201, responses=error_responses(ConnectionNameTaken))
async def create_connection(
    body: ConnectionCreate, session: SessionDep, principal: AdminOnly
) -> ConnectionRead:
    """Admins: connect an external CRM; the credentials its `auth_type` needs are required and
    never returned."""
    connection = await connections.create_connection(session=session, data=body)
    return ConnectionRead.model_validate(connection)


@router.get("")
async def list_connections(
    session: SessionDep, principal: AdminOnly, page: Paging
) -> Page[ConnectionRead]:
    """Admins: the external CRM connections, by name, without secrets, a page at a time."""
    rows, total = await connections.list_connections(
        session=session, limit=page.limit, offset=page.offset
    )
    return page.of([ConnectionRead.model_validate(row) for row in rows], total)


@router.get("/{connection_id}", responses=error_responses(ConnectionNotFound))
async def get_connection(connection: ConnectionDep) -> ConnectionRead:
    """Admins: one connection, without secrets (`has_password`, `has_client_secret`,
    `has_api_key`) and its `status`."""
    return ConnectionRead.model_validate(connection)


@router.put(
    "/{connection_id}",
    responses=error_responses(ConnectionNotFound, ConnectionNameTaken, StaleVersion),
)
async def update_connection(
    body: ConnectionUpdate, connection: ConnectionDep, session: SessionDep
) -> ConnectionRead:
    """Admins: change a connection; `version` must be the one read. Saving reactivates an
    `auth_failed` connection; changing auth fields drops its stored token."""
    updated = await connections.update_connection(session=session, connection=connection, data=body)
    return ConnectionRead.model_validate(updated)


@router.delete("/{connection_id}", status_code=204, responses=error_responses(ConnectionNotFound))
async def delete_connection(connection: ConnectionDep, session: SessionDep) -> Response:
    """Admins: remove a connection and its stored token."""
    await connections.delete_connection(session=session, connection=connection)
    return Response(status_code=204)


@router.post("/{connection_id}/test", responses=error_responses(ConnectionNotFound))
async def test_connection(
    connection_id: uuid.UUID, request: Request, principal: AdminOnly
) -> ConnectionCheck:
    """Whether auth works and each resource answers. Talks to the CRM outside any
    transaction, so a slow CRM holds no database lock."""
    runtime = request.app.state.runtime
    return await connections.check_connection(
        db=runtime.db, events=runtime.events, connection_id=connection_id
    )
