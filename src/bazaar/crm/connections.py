"""Admins' connections to external CRMs, and the CRMClient each one configures.

A connection's token lives on its row, so every worker shares it; renewing it holds the row's
lock (`FOR UPDATE`; SQLite's single writer does the same), which makes one renewal per
connection across workers. A connection whose credentials the CRM refused is `auth_failed`
and builds no client until an admin saves it again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.crm.client import CRMAuthError, CRMClient, CRMError, CRMSettings
from bazaar.crm.client.auth import ApiKeyAuth, Auth, JwtAuth, OAuthAuth, Token, TokenSlot
from bazaar.crm.client.dialect import RESOURCES
from bazaar.crm.connection_schemas import (
    REQUIRED,
    ConnectionCheck,
    ConnectionCreate,
    ConnectionUpdate,
    ResourceCheck,
)
from bazaar.crm.errors import ConnectionNameTaken, ConnectionNotFound, StaleVersion
from bazaar.crm.models import AuthType, ConnectionStatus, CrmConnection
from bazaar.db import Database, unit_of_work
from bazaar.errors import InvalidInputError
from bazaar.events import EventBus
from bazaar.pagination import fetch_page

AUTH_FIELDS = frozenset(
    {"base_url", "api_version", "auth_type", "username", "password", "token_url"}
    | {"client_id", "client_secret", "api_key", "api_key_header"}
)


async def get_connection(*, session: AsyncSession, connection_id: uuid.UUID) -> CrmConnection:
    connection = await session.get(CrmConnection, connection_id)
    if connection is None:
        raise ConnectionNotFound()
    return connection


async def list_connections(
    *, session: AsyncSession, limit: int, offset: int
) -> tuple[list[CrmConnection], int]:
    query = select(CrmConnection).order_by(CrmConnection.name)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def _check_name(session: AsyncSession, name: str, own: uuid.UUID | None) -> None:
    query = select(CrmConnection.id).where(CrmConnection.name == name, CrmConnection.id != own)
    if (await session.execute(query)).first() is not None:
        raise ConnectionNameTaken(details={"name": name})


async def create_connection(*, session: AsyncSession, data: ConnectionCreate) -> CrmConnection:
    await _check_name(session, data.name, None)
    connection = CrmConnection(**data.changes())
    session.add(connection)
    await session.flush()
    return connection


async def update_connection(
    *, session: AsyncSession, connection: CrmConnection, data: ConnectionUpdate
) -> CrmConnection:
    if connection.version != data.version:
        raise StaleVersion(details={"current_version": connection.version})
    changes = data.changes()
    if "name" in changes:
        await _check_name(session, changes["name"], connection.id)
    for name, value in changes.items():
        setattr(connection, name, value)
    missing = [f for f in REQUIRED[connection.auth_type] if getattr(connection, f) is None]
    if missing:
        raise InvalidInputError(
            f"auth_type {connection.auth_type.value} needs {', '.join(missing)}",
            details={"fields": missing},
        )
    if AUTH_FIELDS & set(changes):
        connection.access_token = connection.refresh_token = connection.token_expires_at = None
    # Saving is how an admin fixes refused credentials: the connection may try again.
    connection.status, connection.status_message = ConnectionStatus.ACTIVE, None
    await session.flush()
    return connection


async def delete_connection(*, session: AsyncSession, connection: CrmConnection) -> None:
    await session.delete(connection)
    await session.flush()


class ConnectionTokenStore:
    def __init__(self, db: Database, events: EventBus, connection_id: uuid.UUID) -> None:
        self._db, self._events, self._id = db, events, connection_id

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[TokenSlot]:
        async with unit_of_work(self._db, self._events) as session:
            query = select(CrmConnection).where(CrmConnection.id == self._id).with_for_update()
            row = (await session.execute(query)).scalar_one()
            stored = (
                None
                if row.access_token is None
                else Token(row.access_token, row.refresh_token, row.token_expires_at)
            )
            slot = TokenSlot(stored)
            yield slot
            if slot.token is not stored and slot.token is not None:
                row.access_token = slot.token.access_token
                row.refresh_token = slot.token.refresh_token
                row.token_expires_at = slot.token.expires_at


def _auth(connection: CrmConnection, store: ConnectionTokenStore, api_url: str) -> Auth:
    margin = float(connection.refresh_margin_seconds)
    if connection.auth_type is AuthType.API_KEY:
        assert connection.api_key is not None
        return ApiKeyAuth(key=connection.api_key, header=connection.api_key_header)
    if connection.auth_type is AuthType.JWT:
        assert connection.username is not None
        assert connection.password is not None
        return JwtAuth(
            login_url=f"{api_url}auth/login",
            refresh_url=f"{api_url}auth/refresh",
            username=connection.username,
            password=connection.password,
            store=store,
            refresh_margin=margin,
        )
    assert connection.token_url
    assert connection.client_id
    assert connection.client_secret
    return OAuthAuth(
        token_url=connection.token_url,
        client_id=connection.client_id,
        client_secret=connection.client_secret,
        timeout=connection.timeout_seconds,
        store=store,
        refresh_margin=margin,
    )


def settings_of(connection: CrmConnection, *, rate_window: int | None = None) -> CRMSettings:
    settings = CRMSettings(
        base_url=connection.base_url,
        api_version=connection.api_version,
        timeout=connection.timeout_seconds,
        max_retries=connection.max_retries,
        rate_limit_per_minute=connection.rate_limit_per_minute,
    )
    return settings if rate_window is None else replace(settings, rate_window=rate_window)


def client_for(
    db: Database, events: EventBus, connection: CrmConnection, *, rate_window: int | None = None
) -> CRMClient:
    """A client for the connection as loaded; refused at once while it is `auth_failed`.
    `rate_window` shortens the rate limit's minute, for benchmarks only."""
    if connection.status is ConnectionStatus.AUTH_FAILED:
        raise CRMAuthError(f"connection {connection.name} is auth_failed: fix its credentials")
    settings = settings_of(connection, rate_window=rate_window)
    store = ConnectionTokenStore(db, events, connection.id)
    connection_id = connection.id

    async def refused(exc: CRMAuthError) -> None:
        async with unit_of_work(db, events) as session:
            row = await get_connection(session=session, connection_id=connection_id)
            row.status, row.status_message = ConnectionStatus.AUTH_FAILED, exc.message[:500]

    return CRMClient(settings, _auth(connection, store, settings.api_url), on_auth_failed=refused)


async def check_connection(
    *, db: Database, events: EventBus, connection_id: uuid.UUID
) -> ConnectionCheck:
    """Auth, then one short page of every resource; no transaction is held meanwhile."""
    async with unit_of_work(db, events, read_only=True) as session:
        connection = await get_connection(session=session, connection_id=connection_id)
        session.expunge(connection)
    if connection.status is ConnectionStatus.AUTH_FAILED:
        # A test is an explicit request to try the stored credentials again.
        connection.status = ConnectionStatus.ACTIVE
    resources: dict[str, ResourceCheck] = {}
    async with client_for(db, events, connection) as client:
        try:
            await client.authenticate()
        except CRMError as exc:
            failed = ResourceCheck(ok=False, status=exc.status, error=exc.message)
            return ConnectionCheck(ok=False, auth=failed, resources={})
        for resource in RESOURCES:
            try:
                await client.list(resource, per_page=1)
                resources[resource] = ResourceCheck(ok=True, status=200)
            except CRMError as exc:
                resources[resource] = ResourceCheck(ok=False, status=exc.status, error=exc.message)
    await _mark_active(db, events, connection_id)
    ok = all(check.ok for check in resources.values())
    return ConnectionCheck(ok=ok, auth=ResourceCheck(ok=True), resources=resources)


async def _mark_active(db: Database, events: EventBus, connection_id: uuid.UUID) -> None:
    async with unit_of_work(db, events) as session:
        row = await get_connection(session=session, connection_id=connection_id)
        if row.status is not ConnectionStatus.ACTIVE:
            row.status, row.status_message = ConnectionStatus.ACTIVE, None
