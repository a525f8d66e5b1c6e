"""Who is online, with connection counts per user, across every worker.

Redis keeps one sorted set per user (connection id -> expiry time) and one of users (user ->
latest expiry). Workers refresh their connections' expiry on every heartbeat, so the
connections of a worker that died without saying goodbye vanish after `ttl`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from redis.asyncio import Redis

Connection = tuple[str, str]  # (user_id, connection_id)


class Presence(Protocol):
    async def join(self, *, user_id: str, conn_id: str) -> bool:
        """Record a connection; true when it is the user's first anywhere."""
        ...

    async def leave(self, *, user_id: str, conn_id: str) -> bool:
        """Forget a connection; true when the user has no connection left anywhere."""
        ...

    async def refresh(self, connections: Iterable[Connection]) -> None: ...

    async def online(self) -> dict[str, int]:
        """Connection count per online user."""
        ...


class MemoryPresence:
    def __init__(self) -> None:
        self._users: defaultdict[str, set[str]] = defaultdict(set)

    async def join(self, *, user_id: str, conn_id: str) -> bool:
        self._users[user_id].add(conn_id)
        return len(self._users[user_id]) == 1

    async def leave(self, *, user_id: str, conn_id: str) -> bool:
        conns = self._users.get(user_id)
        if conns is None or conn_id not in conns:
            return False
        conns.discard(conn_id)
        if conns:
            return False
        del self._users[user_id]
        return True

    async def refresh(self, connections: Iterable[Connection]) -> None:
        return None

    async def online(self) -> dict[str, int]:
        return {user: len(conns) for user, conns in self._users.items()}


# KEYS: user's set, users set. ARGV: conn id, now, expiry, ttl (ms), user id.
_JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[5])
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: user's set, users set. ARGV: conn id, now, user id.
_LEAVE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) > 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[3])
return removed
"""

# KEYS: users set. ARGV: now, prefix of the per-user sets.
_ONLINE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, user in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local n = redis.call('ZCOUNT', ARGV[2] .. user, '(' .. ARGV[1], '+inf')
  if n > 0 then
    table.insert(out, user)
    table.insert(out, n)
  end
end
return out
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisPresence:
    def __init__(self, redis: Redis, *, prefix: str = "bazaar:rt", ttl: float = 90.0) -> None:
        self._redis = redis
        self._user_prefix = f"{prefix}:presence:u:"
        self._users = f"{prefix}:presence:users"
        self._ttl_ms = int(ttl * 1000)
        self._join = redis.register_script(_JOIN)
        self._leave = redis.register_script(_LEAVE)
        self._online = redis.register_script(_ONLINE)

    @staticmethod
    def _now_ms() -> int:
        return int(time.time() * 1000)

    async def join(self, *, user_id: str, conn_id: str) -> bool:
        now = self._now_ms()
        args: list[str | int] = [conn_id, now, now + self._ttl_ms, self._ttl_ms, user_id]
        count = await self._join(keys=[self._user_prefix + user_id, self._users], args=args)
        return int(count) == 1

    async def leave(self, *, user_id: str, conn_id: str) -> bool:
        keys = [self._user_prefix + user_id, self._users]
        gone = await self._leave(keys=keys, args=[conn_id, self._now_ms(), user_id])
        return int(gone) == 1

    async def refresh(self, connections: Iterable[Connection]) -> None:
        by_user: defaultdict[str, list[str]] = defaultdict(list)
        for user_id, conn_id in connections:
            by_user[user_id].append(conn_id)
        if not by_user:
            return
        expires = self._now_ms() + self._ttl_ms
        pipe = self._redis.pipeline(transaction=False)
        for user_id, conn_ids in by_user.items():
            key = self._user_prefix + user_id
            pipe.zadd(key, dict.fromkeys(conn_ids, expires))
            pipe.pexpire(key, self._ttl_ms)
            pipe.zadd(self._users, {user_id: expires}, gt=True)
        await pipe.execute()

    async def online(self) -> dict[str, int]:
        flat = await self._online(keys=[self._users], args=[self._now_ms(), self._user_prefix])
        return {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
