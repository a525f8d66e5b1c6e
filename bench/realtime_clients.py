"""One client process of the realtime bench: holds a share of the sockets and says, per
broadcast message, when the last socket of its share had it.

`python -m bench.realtime_clients URL SOCKETS` prints `ready` once every socket is open,
then one `got NUMBER PUBLISHED LAST` line per message (server timestamp and the moment the
last socket of this share received it, both `time.time()`, comparable across processes),
and on any line from stdin prints `lost COUNT` (sockets the server closed) and exits.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect

CONNECT_AT_ONCE = 200


class Share:
    def __init__(self, sockets: int) -> None:
        self.sockets = sockets
        self.counts: dict[int, int] = {}
        self.published: dict[int, float] = {}

    def got(self, number: int, timestamp: str) -> None:
        count = self.counts[number] = self.counts.get(number, 0) + 1
        if count == 1:
            self.published[number] = datetime.fromisoformat(timestamp).timestamp()
        if count == self.sockets:
            sys.stdout.write(f"got {number} {self.published.pop(number)} {time.time()}\n")
            sys.stdout.flush()
            del self.counts[number]


async def _read(connection: ClientConnection, share: Share) -> None:
    async for raw in connection:
        message = orjson.loads(raw)
        if message.get("type") == "system_maintenance":
            share.got(int(message["data"]["message"]), message["timestamp"])
        elif message.get("type") == "heartbeat":
            await connection.send('{"type": "pong"}')


async def main(url: str, sockets: int) -> None:
    share = Share(sockets)
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    for start in range(0, sockets, CONNECT_AT_ONCE):
        batch = range(start, min(sockets, start + CONNECT_AT_ONCE))
        opened = await asyncio.gather(
            *(connect(url, max_queue=None, ping_interval=None, open_timeout=120) for _ in batch)
        )
        connections += opened
        readers += [asyncio.create_task(_read(c, share)) for c in opened]
    print("ready", flush=True)
    stdin = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.readline()
    print(f"lost {sum(1 for c in connections if c.close_code is not None)}", flush=True)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2])))
