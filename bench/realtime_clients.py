"""One client process of the realtime bench: holds a share of the sockets and says, per
broadcast message, when the last socket of its share had it.

`python -m bench.realtime_clients URL SOCKETS` prints `ready` once every socket is open,
then one `got NUMBER PUBLISHED LAST` line per message (server timestamp and the moment the
last socket of this share received it, both `time.time()`, comparable across processes),
and on any line from stdin prints `lost COUNT` (sockets the server closed) and exits.

Sockets are bare asyncio protocols around websockets' sans-I/O client, without its asyncio
connection's per-message queue and task: the client's CPU is taken from the server's on a
small machine, so the less it spends per message, the more the figures say about the server.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from typing import cast
from urllib.parse import urlsplit

import orjson
import uvloop
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

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


class Socket(asyncio.Protocol):
    def __init__(self, url: str, share: Share) -> None:
        # Offered as browsers do; each server decides.
        extensions = enable_client_permessage_deflate(None)
        self.protocol = ClientProtocol(parse_uri(url), extensions=extensions, max_size=None)
        self.share = share
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                failed = self.protocol.handshake_exc
                if failed is None:
                    self.open.set_result(None)
                else:
                    self.open.set_exception(failed)
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._message(orjson.loads(event.data))
        self._flush()

    def _message(self, message: dict[str, object]) -> None:
        if message.get("type") == "system_maintenance":
            data = message["data"]
            assert isinstance(data, dict)
            self.share.got(int(data["message"]), str(message["timestamp"]))
        elif message.get("type") == "heartbeat":
            self.protocol.send_text(b'{"type": "pong"}')

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.open.done():
            self.open.set_exception(exc or ConnectionError("closed during the handshake"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _open(url: str, share: Share) -> Socket:
    address = urlsplit(url)
    assert address.hostname is not None
    assert address.port is not None
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(
        lambda: Socket(url, share), address.hostname, address.port
    )
    async with asyncio.timeout(120):
        await socket.open
    return socket


async def main(url: str, count: int) -> None:
    share = Share(count)
    sockets: list[Socket] = []
    for start in range(0, count, CONNECT_AT_ONCE):
        batch = range(start, min(count, start + CONNECT_AT_ONCE))
        sockets += await asyncio.gather(*(_open(url, share) for _ in batch))
    print("ready", flush=True)
    stdin = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.readline()
    print(f"lost {sum(1 for s in sockets if s.lost)}", flush=True)
    for socket in sockets:
        socket.close()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2])))
