"""The storage backends every storage test runs on: SQLite, and PostgreSQL with Redis.

`BAZAAR_TEST_BACKENDS` picks them (default both). PostgreSQL and Redis are skipped with the
reason when unreachable, except under `CI=true`, where their absence fails the run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bazaar.config import Settings
from bazaar.db import Database
from bazaar.migrate import upgrade
from bazaar.models import Base

POSTGRES_URL = os.environ.get(
    "BAZAAR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BAZAAR_TEST_REDIS_URL", "redis://127.0.0.1:6379")
SELECTED = [b.strip() for b in os.environ.get("BAZAAR_TEST_BACKENDS", "sqlite,postgres").split(",")]


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "scheduler_enabled": False,
            "log_level": "WARNING",
            **overrides,
        }
        return Settings(_env_file=None, **values)


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI expects this backend: {reason}", pytrace=False)
    pytest.skip(reason)


async def _postgres_database() -> AsyncIterator[str]:
    """A fresh database for this test session, dropped at the end."""
    url = make_url(POSTGRES_URL)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"bazaar_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL unreachable at {url.host}:{url.port}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# Logical databases 1..15 are shared by every concurrent run on the machine (pytest-xdist workers,
# other checkouts): each run claims one in database 0 so that no run flushes another's keys.
_REDIS_CLAIM = "bazaar-test:redis-db:{}"
_REDIS_CLAIM_SECONDS = 3 * 3600


async def _redis_database() -> AsyncIterator[str]:
    """A logical Redis database of this run's own, released at the end."""
    claims = Redis.from_url(f"{REDIS_URL.rstrip('/')}/0")
    token = secrets.token_hex(8)
    try:
        try:
            await asyncio.wait_for(claims.ping(), timeout=5)
        except (OSError, TimeoutError, ConnectionError) as exc:
            unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
        for number in range(1, 16):
            key = _REDIS_CLAIM.format(number)
            if await claims.set(key, token, nx=True, ex=_REDIS_CLAIM_SECONDS):
                url = f"{REDIS_URL.rstrip('/')}/{number}"
                await _flush(url)  # whatever a killed run left behind
                try:
                    yield url
                finally:
                    if await claims.get(key) == token.encode():
                        await claims.delete(key)
                return
        unavailable("every Redis logical database 1..15 is claimed by another test run")
    finally:
        await claims.aclose()


async def open_backend(name: str, tmp: Path) -> AsyncIterator[Backend]:
    if name not in SELECTED:
        pytest.skip(f"{name} not in BAZAAR_TEST_BACKENDS={','.join(SELECTED)}")
    if name == "sqlite":
        backend = Backend("sqlite", f"sqlite+aiosqlite:///{tmp / 'bazaar.db'}", None)
        await _migrate(backend)
        yield backend
        return
    async for redis_url in _redis_database():
        async for database_url in _postgres_database():
            backend = Backend("postgres", database_url, redis_url)
            await _migrate(backend)
            yield backend


async def _migrate(backend: Backend) -> None:
    db = Database.from_settings(backend.settings())
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


async def empty(backend: Backend, db: Database) -> None:
    """Leave every table empty (and Redis flushed) for the next test."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with db.engine.begin() as conn:
        if backend.name == "postgres":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names
    if backend.redis_url is not None:
        await _flush(backend.redis_url)


async def _flush(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
