"""Test helpers shared by the realtime tests (importable because tests/ has no packages)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from bazaar.realtime.broker import Broker, MemoryBroker, RedisBroker


@dataclass
class BrokerFactory:
    """Builds brokers of one kind and moves that kind's clock forward."""

    kind: str
    redis: Redis | None = None
    prefix: str = ""
    now: float = 1000.0
    made: list[Broker] = field(default_factory=list)

    async def make(self, **options: Any) -> Broker:
        broker: Broker
        if self.redis is None:
            broker = MemoryBroker(clock=lambda: self.now, **options)
        else:
            broker = RedisBroker(self.redis, prefix=self.prefix, **options)
        await broker.start()
        self.made.append(broker)
        return broker

    async def advance(self, seconds: float) -> None:
        if self.redis is None:
            self.now += seconds
        else:
            await asyncio.sleep(seconds)
