"""Fixtures for authenticated tests, loaded by tests/conftest.py (`pytest_plugins`).

user = await login_as(Role.OFFICER)
await client.get("/api/v1/...", headers=user.headers)
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from bazaar.auth.api_keys import create_api_key
from bazaar.auth.context import auth_context
from bazaar.auth.roles import Role, Scope
from bazaar.auth.service import create_user, get_user
from bazaar.auth.sessions import start_session
from bazaar.config import Settings
from bazaar.db import Database, unit_of_work
from bazaar.events import EventBus
from bazaar.runtime import Runtime

TEST_PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class LoggedInUser:
    id: uuid.UUID
    email: str
    password: str
    role: Role
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


LoginAs = Callable[..., Awaitable[LoggedInUser]]


async def create_logged_in_user(
    state: Any, role: Role, *, email: str | None = None, password: str = TEST_PASSWORD
) -> LoggedInUser:
    """A new user of this role, with a live session (as after POST /auth/login).

    `state` is `app.state`, or an object whose `runtime` is a live server's.
    """
    email = email or f"{role.value}-{next(_numbers)}@test.bazaar"
    context = auth_context(state.runtime)
    async with unit_of_work(state.runtime.db, state.runtime.events) as session:
        user = await create_user(
            session=session,
            email=email,
            password=password,
            full_name=f"Test {role.value.title()}",
            role=role,
            hasher=context.hasher,
        )
        pair = await start_session(session=session, context=context, user=user)
    return LoggedInUser(
        id=user.id,
        email=user.email,
        password=password,
        role=role,
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
    )


@pytest.fixture
def login_as(app: FastAPI) -> LoginAs:
    """`await login_as(Role.OFFICER, email=None)` -> a new user with `.headers` for requests."""

    async def login(
        role: Role, email: str | None = None, password: str = TEST_PASSWORD
    ) -> LoggedInUser:
        return await create_logged_in_user(app.state, role, email=email, password=password)

    return login


async def new_session_headers(state: Any, user: LoggedInUser) -> dict[str, str]:
    """Headers of a further session of the same user (another device logging in)."""
    context = auth_context(state.runtime)
    async with unit_of_work(state.runtime.db, state.runtime.events) as session:
        account = await get_user(session=session, user_id=user.id)
        pair = await start_session(session=session, context=context, user=account)
    return {"Authorization": f"Bearer {pair.access_token}"}


async def admin_api_key(settings: Settings) -> str:
    """A write-scoped key of a new admin, made through a connection of its own: for a live
    server, whose app runs on another event loop."""
    state = SimpleNamespace(
        runtime=Runtime(settings, Database.from_settings(settings), EventBus(), None)
    )
    try:
        admin = await create_logged_in_user(state, Role.ADMIN)
        async with unit_of_work(state.runtime.db, state.runtime.events) as session:
            created = await create_api_key(
                session=session, owner_id=admin.id, name="schemathesis", scope=Scope.WRITE,
                expires_in=None,
            )  # fmt: skip
        return created.key
    finally:
        await state.runtime.db.dispose()


async def live_headers(settings: Settings, role: Role) -> dict[str, str]:
    """Credentials of a new user of `role` for a live server: an admin's write key (a fuzzed
    logout cannot end it), or another role's access token."""
    if role is Role.ADMIN:
        return {"X-API-Key": await admin_api_key(settings)}
    state = SimpleNamespace(
        runtime=Runtime(settings, Database.from_settings(settings), EventBus(), None)
    )
    try:
        return (await create_logged_in_user(state, role)).headers
    finally:
        await state.runtime.db.dispose()
