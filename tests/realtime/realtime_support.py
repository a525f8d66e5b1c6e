"""Test helpers shared by the realtime tests (importable because tests/ has no packages)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

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


class Socket:
    """A test client on a real server: JSON in and out, waits with deadlines."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.welcome: dict[str, Any] = {}

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(
            message if isinstance(message, str | bytes) else json.dumps(message)
        )

    async def next(self, *, wait: float = 3.0, skip_heartbeats: bool = True) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            while True:
                message: dict[str, Any] = json.loads(await self.connection.recv())
                if not (skip_heartbeats and message["type"] == "heartbeat"):
                    return message

    async def until(self, kind: str, *, wait: float = 3.0) -> list[dict[str, Any]]:
        """Every message up to and including the first of type `kind`."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(wait):
            while not seen or seen[-1]["type"] != kind:
                seen.append(await self.next(wait=wait))
        return seen

    async def silent(self, within: float = 0.4) -> None:
        """Nothing but heartbeats arrives for `within` seconds."""
        try:
            message = await self.next(wait=within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")

    async def closed_with(self, *, wait: float = 3.0) -> int:
        """The close code the server sent, reading (and ignoring) whatever came before it."""
        async with asyncio.timeout(wait):
            with pytest.raises(ConnectionClosed) as closed:
                await self._drain()
        assert closed.value.rcvd is not None, "closed without a close frame"
        return closed.value.rcvd.code

    async def _drain(self) -> None:
        while True:
            await self.connection.recv()


def ws_base(live_url: str) -> str:
    return live_url.replace("http://", "ws://", 1)


@asynccontextmanager
async def open_socket(
    live_url: str,
    token: str | None,
    *,
    path: str = "/ws",
    origin: str | None = None,
    in_protocol: bool = False,
    **options: Any,
) -> AsyncIterator[Socket]:
    url = ws_base(live_url) + path
    subprotocols: list[Subprotocol] | None = None
    if token is not None and in_protocol:
        subprotocols = [Subprotocol("bearer"), Subprotocol(token)]
    elif token is not None:
        url += f"?token={token}"
    async with connect(
        url, origin=Origin(origin) if origin else None, subprotocols=subprotocols, **options
    ) as connection:
        socket = Socket(connection)
        socket.welcome = await socket.next()
        assert socket.welcome["type"] == "subscribed"
        yield socket


async def refusal_status(live_url: str, token: str | None, **options: Any) -> int:
    """The HTTP status the handshake was refused with."""
    try:
        async with open_socket(live_url, token, **options):
            pass
    except InvalidStatus as refused:
        return refused.response.status_code
    raise AssertionError("the handshake was accepted")


class RecordingWebSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int) -> None:
        return None
