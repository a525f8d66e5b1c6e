"""The hub over a Redis link that drops: nothing published meanwhile is lost."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import CollectorRegistry
from tests.realtime.conftest import redis_space
from tests.realtime.realtime_support import RecordingWebSocket

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.realtime.broker import RedisBroker
from bazaar.realtime.hub import Hub
from bazaar.realtime.metrics import RealtimeMetrics
from bazaar.realtime.presence import MemoryPresence

NOTICE = {"type": "system_maintenance", "timestamp": "t", "data": {}}


async def offsets_when(socket: RecordingWebSocket, count: int) -> list[int]:
    async with asyncio.timeout(5):
        while True:
            offsets = [m["offset"] for m in socket.sent if "offset" in m]
            if len(offsets) >= count:
                return offsets
            await asyncio.sleep(0.01)


async def test_publications_missed_while_the_link_was_down_still_arrive() -> None:
    async with redis_space() as (redis, prefix):
        before = {int(c["id"]) for c in await redis.client_list(_type="pubsub")}
        hub = Hub(
            broker=RedisBroker(redis, prefix=prefix),
            presence=MemoryPresence(),
            metrics=RealtimeMetrics(CollectorRegistry()),
            heartbeat_interval=30,
            max_connections=10,
            send_queue=100,
        )
        await hub.start()
        link = {int(c["id"]) for c in await redis.client_list(_type="pubsub")} - before
        publisher = RedisBroker(redis, prefix=prefix)
        socket = RecordingWebSocket()
        principal = Principal(user_id=uuid.uuid4(), role=Role.CUSTOMER)
        await hub.attach(hub.connection(socket, principal, credential=None))  # type: ignore[arg-type]
        try:
            await publisher.publish("broadcast", NOTICE)
            await offsets_when(socket, 1)
            for client_id in link:
                await redis.client_kill_filter(_id=str(client_id))
            for _ in range(3):
                await publisher.publish("broadcast", NOTICE)

            assert await offsets_when(socket, 4) == [1, 2, 3, 4]
            await publisher.publish("broadcast", NOTICE)
            assert await offsets_when(socket, 5) == [1, 2, 3, 4, 5]
        finally:
            await hub.close()
