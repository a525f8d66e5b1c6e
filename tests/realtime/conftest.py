"""Fixtures giving the same test body a memory and a Redis implementation.

Redis tests use a key prefix of their own and delete its keys afterwards, so they can run
next to each other and next to a running Bazaar on the same Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tests.backends import Backend
from tests.realtime.realtime_support import BrokerFactory

from bazaar.config import Settings
from bazaar.realtime.presence import MemoryPresence, Presence, RedisPresence

REDIS_URL = os.environ.get("BAZAAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def redis_space() -> AsyncIterator[tuple[Redis, str]]:
    """A Redis client and a key prefix nobody else uses; the prefix's keys go at exit."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError):
        await client.aclose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not reachable")
    prefix = f"bazaar-test:{uuid.uuid4().hex[:12]}"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def brokers(request: pytest.FixtureRequest) -> AsyncIterator[BrokerFactory]:
    if request.param == "memory":
        factory = BrokerFactory("memory")
        yield factory
        return
    async with redis_space() as (client, prefix):
        factory = BrokerFactory("redis", redis=client, prefix=prefix)
        try:
            yield factory
        finally:
            for broker in factory.made:
                await broker.close()


@pytest.fixture(params=["memory", "redis"])
async def presence_factory(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[..., Presence]]:
    """Each call is one worker's view; memory has a single worker, so they share one."""
    if request.param == "memory":
        shared = MemoryPresence()
        yield lambda **_: shared
        return
    async with redis_space() as (client, prefix):
        yield lambda **options: RedisPresence(client, prefix=prefix, **options)


APP_ORIGIN = "https://app.bazaar.test"


@pytest.fixture
def ws_overrides() -> dict[str, object]:
    """Settings a test changes; parametrize it to change them."""
    return {}


@pytest.fixture
def settings(backend: Backend, ws_overrides: dict[str, object]) -> Settings:
    return backend.settings(**{"cors_origins": [APP_ORIGIN], **ws_overrides})


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server) as client:
        yield client
