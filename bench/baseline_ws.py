"""The bare `websockets` broadcast baseline: what one Python process can fan out.

Clients connect to `/`; whatever a client on `/publish` sends is broadcast to all of them
with `websockets.broadcast()` (no auth, no history, no queues). Compression is declined, as
Bazaar declines it by default, so both servers write the same uncompressed frames.
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve

clients: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    assert connection.request is not None
    if connection.request.path == "/publish":
        async for message in connection:
            broadcast(clients, message)
        return
    clients.add(connection)
    try:
        await connection.wait_closed()
    finally:
        clients.discard(connection)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_queue=None, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
