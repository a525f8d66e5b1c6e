"""A database connection dropped under the app (a restart, a failover) costs one retryable
answer, never a 500 or a stuck pool."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from bazaar.auth.roles import Role
from tests.auth_fixtures import create_logged_in_user
from tests.backends import Backend


async def _drop_app_connections(database_url: str) -> int:
    url = make_url(database_url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        dropped = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return len(dropped)


async def test_a_dropped_connection_is_503_then_the_pool_recovers(
    backend: Backend, app: FastAPI, client: httpx.AsyncClient
) -> None:
    if backend.name != "postgres":
        pytest.skip("an SQLite file has no connection to drop")
    user = await create_logged_in_user(app.state, Role.OFFICER)
    headers = {"Authorization": f"Bearer {user.access_token}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert await _drop_app_connections(str(app.state.runtime.settings.database_url)) >= 1

    lost = await client.get("/api/v1/auth/me", headers=headers)
    assert lost.status_code == 503, lost.text
    assert lost.json()["error"]["code"] == "database_unavailable"
    assert lost.headers["Retry-After"] == "1"

    again = await client.get("/api/v1/auth/me", headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == str(user.id)
