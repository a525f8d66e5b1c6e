"""The worker's sockets and the broker between them and every other worker.

Each publication comes back from the broker (from this worker or another) to `_dispatch`,
which hands it to the sockets that joined its channel without ever awaiting one of them.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from starlette.websockets import WebSocket

from bazaar.auth.principal import Principal
from bazaar.config import Settings
from bazaar.realtime.broker import Broker, MemoryBroker, Publication, RedisBroker
from bazaar.realtime.connection import Connection
from bazaar.realtime.messages import (
    ALWAYS_ON,
    ChannelPosition,
    CloseCode,
    ErrorMessage,
    Heartbeat,
    Ignored,
    NotificationType,
    Pong,
    Recovered,
    Resume,
    Subscribe,
    Subscribed,
    Unsubscribe,
)
from bazaar.realtime.metrics import RealtimeMetrics
from bazaar.realtime.presence import MemoryPresence, Presence, RedisPresence
from bazaar.realtime.routing import CONTROL, PRESENCE, allowed_types, known_types

log = structlog.get_logger(__name__)

ClientMessage = Subscribe | Unsubscribe | Pong | Resume


def encode(publication: Publication) -> str:
    payload = publication.payload
    return orjson.dumps(
        {
            "type": payload["type"],
            "channel": publication.channel,
            "offset": publication.offset,
            "epoch": publication.epoch,
            "timestamp": payload["timestamp"],
            "data": payload["data"],
        }
    ).decode()


_HEARTBEAT_SLICES = 10


def _leave(index: dict[str, set[Connection]], key: str, connection: Connection) -> bool:
    """Remove `connection` under `key`; true when nobody is left there."""
    members = index.get(key)
    if members is None:
        return False
    members.discard(connection)
    if members:
        return False
    del index[key]
    return True


def error_frame(code: str, message: str) -> str:
    return ErrorMessage(code=code, message=message).model_dump_json()


class Hub:
    def __init__(
        self,
        *,
        broker: Broker,
        presence: Presence,
        metrics: RealtimeMetrics,
        heartbeat_interval: float,
        max_connections: int,
        send_queue: int,
    ) -> None:
        self.broker = broker
        self.presence = presence
        self.metrics = metrics
        self._heartbeat_interval = heartbeat_interval
        self._max_connections = max_connections
        self._send_queue = send_queue
        self._reserved = 0
        self._connections: set[Connection] = set()
        self._channels: defaultdict[str, set[Connection]] = defaultdict(set)
        self._users: defaultdict[str, set[Connection]] = defaultdict(set)
        self._stop_listening: Callable[[], None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        # Per channel with local sockets: the last (epoch, offset) seen, to catch up from.
        self._last: dict[str, tuple[str, int]] = {}
        # Live publications held back while catching up after a gap.
        self._held: list[Publication] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def build(cls, settings: Settings, *, redis: Redis | None, registry: CollectorRegistry) -> Hub:
        size, ttl = settings.ws_history_size, settings.ws_history_ttl
        # Three missed refreshes before another worker's connections count as gone.
        presence_ttl = max(3 * settings.ws_heartbeat_interval, 5.0)
        broker: Broker
        presence: Presence
        if redis is None:
            broker = MemoryBroker(history_size=size, history_ttl=ttl)
            presence = MemoryPresence()
        else:
            broker = RedisBroker(redis, history_size=size, history_ttl=ttl)
            presence = RedisPresence(redis, ttl=presence_ttl)
        return cls(
            broker=broker,
            presence=presence,
            metrics=RealtimeMetrics(registry),
            heartbeat_interval=settings.ws_heartbeat_interval,
            max_connections=settings.ws_max_connections,
            send_queue=settings.ws_send_queue,
        )

    async def start(self) -> None:
        # Kept so that code on another thread (a test, a sync callback) can reach the hub.
        self.loop = asyncio.get_running_loop()
        self._stop_listening = self.broker.subscribe(self._dispatch)
        self.broker.on_gap(self._on_gap)
        await self.broker.start()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="ws-heartbeat")

    async def close(self) -> None:
        background = [*self._tasks, *([self._heartbeat] if self._heartbeat else [])]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for connection in list(self._connections):
            connection.close(CloseCode.GOING_AWAY)
        waiting = [asyncio.create_task(c.finished.wait()) for c in self._connections]
        if waiting:
            await asyncio.wait(waiting, timeout=2)
            for waiter in waiting:
                waiter.cancel()
        if self._stop_listening is not None:
            self._stop_listening()
        await self.broker.close()

    @property
    def local_connections(self) -> int:
        return len(self._connections)

    def reserve(self) -> bool:
        """Claim a connection slot before accepting; false when the worker is full."""
        if self._reserved >= self._max_connections:
            return False
        self._reserved += 1
        return True

    def release(self) -> None:
        self._reserved -= 1

    def connection(
        self, websocket: WebSocket, principal: Principal, *, credential: str | None
    ) -> Connection:
        return Connection(
            websocket,
            principal,
            credential=credential,
            queue_limit=self._send_queue,
            on_sent=self.metrics.count_sent,
            slot=len(self._connections) % _HEARTBEAT_SLICES,
        )

    async def attach(self, connection: Connection) -> None:
        self._connections.add(connection)
        self._users[connection.user_id].add(connection)
        for channel in connection.channels:
            self._channels[channel].add(connection)
        connection.start()
        self.metrics.connections.inc()
        positions = await self.positions(connection.channels)
        for channel, position in positions.items():
            self._last.setdefault(channel, (position.epoch, position.offset))
        connection.push(self._subscribed(connection, positions))
        if await self.presence.join(user_id=connection.user_id, conn_id=connection.id):
            await self._announce(NotificationType.USER_ONLINE, connection)

    async def detach(self, connection: Connection) -> None:
        if connection in self._connections:
            self._forget(connection)
        self.release()
        if await self.presence.leave(user_id=connection.user_id, conn_id=connection.id):
            await self._announce(NotificationType.USER_OFFLINE, connection)

    def _forget(self, connection: Connection) -> None:
        self._connections.discard(connection)
        self.metrics.connections.dec()
        _leave(self._users, connection.user_id, connection)
        for channel in connection.channels:
            if _leave(self._channels, channel, connection):
                self._last.pop(channel, None)

    def _drop(self, connection: Connection) -> None:
        if connection in self._connections:
            self._forget(connection)
            self.metrics.slow_clients_dropped.inc()
            self.metrics.closed.labels(str(CloseCode.SLOW_CONSUMER.value)).inc()
            log.info("ws_slow_client_dropped", user_id=connection.user_id, connection=connection.id)
        connection.abort(CloseCode.SLOW_CONSUMER)

    def close_connection(self, connection: Connection, code: CloseCode) -> None:
        self.metrics.closed.labels(str(code.value)).inc()
        # A revoked user gets nothing more, not even what was already queued.
        connection.close(code, discard=code is CloseCode.REVOKED)

    async def _announce(self, kind: str, connection: Connection) -> None:
        data = {"user_id": connection.user_id, "role": connection.principal.role.value}
        try:
            await self.publish(PRESENCE, kind, data)
        except Exception:  # presence news is best effort; the socket itself is fine
            log.exception("ws_presence_announce_failed")

    async def publish(self, channel: str, kind: str, data: Mapping[str, Any]) -> Publication:
        payload = {
            "type": kind,
            "timestamp": datetime.now(UTC).isoformat(),
            "data": orjson.loads(orjson.dumps(data, default=str)),
        }
        publication = await self.broker.publish(channel, payload)
        self.metrics.publications.labels(kind).inc()
        return publication

    async def revoke(self, *, user_id: str, credential: str | None = None) -> None:
        """Close the user's sockets on every worker: all of them, or those opened with one
        login session or API key."""
        await self.broker.publish(
            CONTROL, {"action": "revoke", "user_id": user_id, "credential": credential}
        )

    def _dispatch(self, publication: Publication) -> None:
        if self._held is not None:
            self._held.append(publication)
        else:
            self._deliver(publication)

    def _on_gap(self) -> None:
        if self._held is not None or not self._last:
            return
        self._held = []
        task = asyncio.create_task(self._catch_up(), name="ws-catch-up")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up(self) -> None:
        """Deliver from history what the broker link missed, then what was held meanwhile;
        sockets drop what they already have by offset."""
        try:
            for channel, (epoch, offset) in list(self._last.items()):
                history = await self.broker.history(channel, since=offset)
                if history.epoch == epoch:
                    for publication in history.publications:
                        self._deliver(publication)
        except Exception:  # the sockets can still resume on their own
            log.exception("ws_catch_up_failed")
        finally:
            held, self._held = self._held or [], None
            for publication in held:
                self._deliver(publication)

    def _deliver(self, publication: Publication) -> None:
        if publication.channel == CONTROL:
            self._control(publication.payload)
            return
        members = self._channels.get(publication.channel)
        if not members:
            return
        self._last[publication.channel] = (publication.epoch, publication.offset)
        text: str | None = None

        def wire() -> str:
            nonlocal text
            if text is None:
                text = encode(publication)
            return text

        slow = [c for c in members if not c.offer(publication, wire)]
        for connection in slow:
            self._drop(connection)

    def _control(self, payload: Mapping[str, Any]) -> None:
        if payload.get("action") != "revoke":
            return
        credential = payload.get("credential")
        for connection in list(self._users.get(str(payload.get("user_id")), ())):
            if credential is None or connection.credential == credential:
                self.close_connection(connection, CloseCode.REVOKED)

    async def positions(self, channels: Iterable[str]) -> dict[str, ChannelPosition]:
        found = {}
        for channel in sorted(channels):
            history = await self.broker.history(channel, since=None)
            found[channel] = ChannelPosition(offset=history.offset, epoch=history.epoch)
        return found

    def _subscribed(self, connection: Connection, positions: dict[str, ChannelPosition]) -> str:
        types = sorted(connection.types)
        return Subscribed(notification_types=types, channels=positions).model_dump_json()

    async def handle(self, connection: Connection, message: ClientMessage) -> None:
        if isinstance(message, Subscribe | Unsubscribe):
            self._change_types(connection, message)
        elif isinstance(message, Resume):
            await self.resume(connection, message)

    def _change_types(self, connection: Connection, message: Subscribe | Unsubscribe) -> None:
        """Apply the types this role may receive and report the others, instead of refusing
        the whole message. A subscribe whose every type is ignored changes nothing."""
        allowed = allowed_types(connection.principal.role)
        known = known_types()
        subscribing = isinstance(message, Subscribe)
        chosen: list[str] = []
        ignored: list[Ignored] = []
        accepted = False
        for name in dict.fromkeys(message.notification_types):
            if name in ALWAYS_ON and subscribing:
                accepted = True
            elif name in ALWAYS_ON:
                ignored.append(Ignored(type=name, reason="always_on"))
            elif name not in known:
                ignored.append(Ignored(type=name, reason="unknown"))
            elif name not in allowed:
                ignored.append(Ignored(type=name, reason="forbidden"))
            else:
                chosen.append(name)
                accepted = True
        if subscribing and accepted:
            connection.subscribe(chosen)
        elif not subscribing:
            connection.types.difference_update(chosen)
        types = sorted(connection.types)
        answer = Subscribed(notification_types=types, channels={}, ignored=ignored)
        connection.push(answer.model_dump_json())

    async def resume(self, connection: Connection, request: Resume) -> None:
        foreign = sorted(set(request.since) - connection.channels)
        if foreign:
            connection.push(error_frame("forbidden_channel", f"not your channels: {foreign}"))
            return
        connection.begin_recovery()
        try:
            histories = {c: await self.broker.history(c, since=s) for c, s in request.since.items()}
        except BaseException:
            connection.end_recovery(encode)
            raise
        recovered, fits = True, True
        for channel, history in histories.items():
            hit = history.complete and history.epoch == request.epoch_of(channel)
            self.metrics.recoveries.labels("hit" if hit else "miss").inc()
            recovered &= hit
            if hit:
                since = request.since[channel]
                fits = fits and connection.replay(history, since=since, wire=encode)
        positions = {
            channel: ChannelPosition(offset=history.offset, epoch=history.epoch)
            for channel, history in histories.items()
        }
        fits = fits and connection.push(
            Recovered(recovered=recovered, channels=positions).model_dump_json()
        )
        if not (connection.end_recovery(encode) and fits):
            self._drop(connection)

    async def _heartbeat_loop(self) -> None:
        # Each tick serves one slice of the sockets: thousands of heartbeats (and their pongs)
        # at one instant would delay a broadcast sent at that instant.
        tick = 0
        while True:
            await asyncio.sleep(self._heartbeat_interval / _HEARTBEAT_SLICES)
            try:
                await self._beat(tick % _HEARTBEAT_SLICES)
            except Exception:  # one failed beat (Redis away) must not end the loop
                log.exception("ws_heartbeat_failed")
            tick += 1

    async def _beat(self, slice_: int) -> None:
        now = time.monotonic()
        frame = Heartbeat(timestamp=datetime.now(UTC)).model_dump_json()
        beating = [c for c in self._connections if c.slot == slice_ and not c.closing]
        for connection in beating:
            if now - connection.last_seen > 2 * self._heartbeat_interval:
                self.close_connection(connection, CloseCode.HEARTBEAT_TIMEOUT)
            elif not connection.push(frame):
                self._drop(connection)
        await self.presence.refresh((c.user_id, c.id) for c in beating)
