"""Channel history and fan-out: one interface, in-process or Redis.

Every channel has an epoch and monotonically increasing offsets (1, 2, ...). The epoch
changes whenever the channel's history is lost (process restart, Redis key expiry), so a
client holding an offset from the old epoch knows it cannot resume. This is Centrifugo's
model: a publication is appended to the history and fanned out in one atomic step, so a
subscriber that saw offset n and reads the history from n sees every later publication
exactly once.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

CHANNEL_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")

Handler = Callable[["Publication"], None]


@dataclass(frozen=True, slots=True)
class Publication:
    channel: str
    offset: int
    epoch: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class History:
    """The channel's current position and the retained publications after `since`.

    `complete` is true when `publications` holds every publication after `since`, i.e. a
    client at `since` in this epoch can catch up without a gap.
    """

    epoch: str
    offset: int
    publications: list[Publication]
    complete: bool


class Broker(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call `handler` (synchronously, it must not block) for every publication of
        every process sharing this broker; returns the function that unsubscribes."""
        ...

    def on_gap(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever live delivery may have missed publications (the link to
        the other processes was re-established): the subscriber reads them from history."""
        ...

    async def publish(self, channel: str, payload: Mapping[str, Any]) -> Publication: ...

    async def history(self, channel: str, *, since: int | None) -> History:
        """`since=None` asks only for the channel's position (epoch and last offset)."""
        ...


def new_epoch() -> str:
    return secrets.token_hex(4)


def check_channel(channel: str) -> None:
    if not CHANNEL_PATTERN.match(channel):
        raise ValueError(f"invalid channel name {channel!r}")


def _is_complete(since: int | None, top: int, publications: list[Publication]) -> bool:
    if since is None or since > top:
        return False
    if since == top:
        return True
    return bool(publications) and (publications[0].offset, publications[-1].offset) == (
        since + 1,
        top,
    )


class _Fanout:
    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    def dispatch(self, publication: Publication) -> None:
        for handler in list(self._handlers):
            try:
                handler(publication)
            except Exception:
                # One broken subscriber must not starve the others of the message.
                log.exception("realtime_handler_failed")


@dataclass
class _Channel:
    epoch: str = field(default_factory=new_epoch)
    offset: int = 0
    touched: float = 0.0
    entries: deque[tuple[float, Publication]] = field(default_factory=deque)


class MemoryBroker:
    """In-process broker for embedded mode: history lives as long as the process."""

    _SWEEP_EVERY = 1024

    def __init__(
        self,
        *,
        history_size: int = 500,
        history_ttl: float = 3600.0,
        meta_ttl: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = history_size
        self._ttl = history_ttl
        self._meta_ttl = max(meta_ttl, history_ttl)
        self._clock = clock
        self._channels: dict[str, _Channel] = {}
        self._fanout = _Fanout()
        self._publishes = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._channels.clear()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        return self._fanout.subscribe(handler)

    def on_gap(self, callback: Callable[[], None]) -> None:
        """In one process nothing is ever missed."""

    def _channel(self, name: str, now: float) -> _Channel:
        state = self._channels.get(name)
        if state is None or now - state.touched > self._meta_ttl:
            state = self._channels[name] = _Channel(touched=now)
        while state.entries and (
            now - state.entries[0][0] > self._ttl or len(state.entries) > self._size
        ):
            state.entries.popleft()
        return state

    def _sweep(self, now: float) -> None:
        stale = [n for n, s in self._channels.items() if now - s.touched > self._meta_ttl]
        for name in stale:
            del self._channels[name]

    async def publish(self, channel: str, payload: Mapping[str, Any]) -> Publication:
        check_channel(channel)
        now = self._clock()
        state = self._channel(channel, now)
        state.offset += 1
        state.touched = now
        publication = Publication(channel, state.offset, state.epoch, payload)
        state.entries.append((now, publication))
        if len(state.entries) > self._size:
            state.entries.popleft()
        self._publishes += 1
        if self._publishes % self._SWEEP_EVERY == 0:
            self._sweep(now)
        self._fanout.dispatch(publication)
        return publication

    async def history(self, channel: str, *, since: int | None) -> History:
        check_channel(channel)
        state = self._channel(channel, self._clock())
        found = [] if since is None else [p for _, p in state.entries if p.offset > since]
        return History(state.epoch, state.offset, found, _is_complete(since, state.offset, found))


# KEYS: stream, meta. ARGV: payload, maxlen, history_ttl_ms, meta_ttl_ms, new epoch,
# fan-out channel, channel name. The stream is dropped with a new epoch because offsets
# restart at 1 and stream ids must grow.
_PUBLISH = """
local epoch = redis.call('HGET', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[2], 'e', epoch)
  redis.call('DEL', KEYS[1])
end
local offset = redis.call('HINCRBY', KEYS[2], 's', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], offset .. '-0', 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[6], offset .. '\\n' .. epoch .. '\\n' .. ARGV[7] .. '\\n' .. ARGV[1])
return {offset, epoch}
"""

# KEYS: stream, meta. ARGV: since (-1 for position only), history size, new epoch, meta_ttl_ms.
# MAXLEN ~ trims whole stream nodes only, so more than N entries may be stored; reading only
# the last N keeps the recovery window exactly N, as in memory.
_HISTORY = """
local epoch = redis.call('HGET', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[2], 'e', epoch, 's', 0)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('DEL', KEYS[1])
end
local top = tonumber(redis.call('HGET', KEYS[2], 's')) or 0
local since = tonumber(ARGV[1])
local entries = {}
if since >= 0 and since < top then
  local first = math.max(since, top - tonumber(ARGV[2])) + 1
  entries = redis.call('XRANGE', KEYS[1], first .. '-0', '+', 'COUNT', ARGV[2])
end
return {epoch, top, entries}
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBroker:
    """Streams hold each channel's history (MAXLEN ~ N, TTL); one pub/sub channel carries
    every publication to every process, which routes it to its own sockets."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "bazaar:rt",
        history_size: int = 500,
        history_ttl: float = 3600.0,
        meta_ttl: float = 86400.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._size = history_size
        self._ttl_ms = int(history_ttl * 1000)
        self._meta_ttl_ms = int(max(meta_ttl, history_ttl) * 1000)
        # Pub/sub ignores the logical database: name it so apps on other databases stay apart.
        database = redis.connection_pool.connection_kwargs.get("db", 0)
        self._fanout_channel = f"{prefix}:fanout:db{database}"
        self._fanout = _Fanout()
        self._publish_script = redis.register_script(_PUBLISH)
        self._history_script = redis.register_script(_HISTORY)
        self._reader: asyncio.Task[None] | None = None
        self._gap_callbacks: list[Callable[[], None]] = []

    def _keys(self, channel: str) -> list[str]:
        # The hash tag keeps both keys of a channel in one slot for Redis Cluster.
        return [f"{self._prefix}:{{{channel}}}:s", f"{self._prefix}:{{{channel}}}:m"]

    async def start(self, *, wait: float = 5.0) -> None:
        """Subscribe; if Redis does not answer within `wait` seconds, go on without it and
        keep trying (the app serves HTTP meanwhile, /health/ready reports Redis down)."""
        subscribed = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(subscribed), name="realtime-broker")
        try:
            await asyncio.wait_for(asyncio.shield(subscribed), wait)
        except TimeoutError:
            log.warning("realtime_pubsub_not_ready", waited_seconds=wait)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        return self._fanout.subscribe(handler)

    def on_gap(self, callback: Callable[[], None]) -> None:
        self._gap_callbacks.append(callback)

    async def _read(self, subscribed: asyncio.Future[None]) -> None:
        backoff = 0.1
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._fanout_channel)
                    async for message in pubsub.listen():
                        if message["type"] == "subscribe":
                            backoff = 0.1
                            if not subscribed.done():
                                subscribed.set_result(None)
                            for callback in self._gap_callbacks:
                                callback()
                        elif message["type"] == "message":
                            self._fanout.dispatch(self._decode(message["data"]))
            except (RedisError, OSError) as exc:
                # Publications during the gap stay in the streams; on_gap callers read them.
                log.warning("realtime_pubsub_reconnecting", error=str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    @staticmethod
    def _decode(data: bytes | str) -> Publication:
        offset, epoch, channel, payload = _text(data).split("\n", 3)
        return Publication(channel, int(offset), epoch, orjson.loads(payload))

    async def publish(self, channel: str, payload: Mapping[str, Any]) -> Publication:
        check_channel(channel)
        args: list[bytes | str | int] = [orjson.dumps(payload), self._size, self._ttl_ms]
        args += [self._meta_ttl_ms, new_epoch(), self._fanout_channel, channel]
        offset, epoch = await self._publish_script(keys=self._keys(channel), args=args)
        return Publication(channel, int(offset), _text(epoch), payload)

    async def history(self, channel: str, *, since: int | None) -> History:
        check_channel(channel)
        args: list[str | int] = [-1 if since is None else since, self._size]
        args += [new_epoch(), self._meta_ttl_ms]
        epoch, top, entries = await self._history_script(keys=self._keys(channel), args=args)
        epoch_text = _text(epoch)
        found = [
            Publication(
                channel,
                int(_text(entry_id).split("-", 1)[0]),
                epoch_text,
                orjson.loads(_fields(fields)["d"]),
            )
            for entry_id, fields in entries
        ]
        top = int(top)
        return History(epoch_text, top, found, _is_complete(since, top, found))


def _fields(flat: list[bytes | str]) -> dict[str, bytes | str]:
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
