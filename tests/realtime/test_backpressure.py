"""A client that stops reading is dropped; the broadcaster never waits for it."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from tests.auth_fixtures import LoginAs
from tests.realtime.realtime_support import Socket, open_socket

from bazaar.auth.roles import Role
from bazaar.realtime.hub import Hub
from bazaar.realtime.messages import NotificationType

MESSAGES = 10_000
PAD = "x" * 2_000  # 10,000 of these are ~20 MB: far more than any buffer on the way


@asynccontextmanager
async def stalled_client(live_server: str, token: str) -> AsyncIterator[asyncio.StreamWriter]:
    """A WebSocket client that completes the handshake and then never reads again.

    Its socket has a small fixed receive buffer (no autotuning up to many MiB), so the server
    notices after kilobytes, as it would across a real network.
    """
    host, port = live_server.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=16 * 1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    try:
        yield writer
    finally:
        writer.close()


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def publish_many(hub: Hub) -> None:
    for n in range(MESSAGES):
        data = {"n": n, "sent_at": time.time(), "pad": PAD}
        await hub.publish("broadcast", NotificationType.SYSTEM_MAINTENANCE, data)
        if n % 50 == 0:
            await asyncio.sleep(0)


async def read_all(socket: Socket) -> float:
    """Receive every message; the worst delay between publishing and receiving, in seconds."""
    worst, expected = 0.0, 0
    while expected < MESSAGES:
        message = await socket.next(wait=10)
        assert message["data"]["n"] == expected
        worst = max(worst, time.time() - message["data"]["sent_at"])
        expected += 1
    return worst


@pytest.mark.parametrize("ws_overrides", [{"ws_send_queue": 256}])
async def test_a_client_that_stops_reading_is_dropped_and_others_keep_up(
    live_server: str, live_app: FastAPI, login_as: LoginAs
) -> None:
    hub: Hub = live_app.state.runtime.realtime
    registry = live_app.state.metrics.registry
    customer = await login_as(Role.CUSTOMER)
    before = rss_bytes()

    async with (
        stalled_client(live_server, customer.access_token),
        open_socket(live_server, customer.access_token) as reader,
    ):
        reading = asyncio.create_task(read_all(reader))
        published = asyncio.run_coroutine_threadsafe(publish_many(hub), hub.loop)
        await asyncio.wrap_future(published)
        worst = await reading
        grown = rss_bytes() - before

        assert worst < 1.0
        assert registry.get_sample_value("bazaar_ws_slow_clients_dropped_total") == 1
        assert hub.local_connections == 1
        assert grown < 10 * 2**20, f"grew by {grown / 2**20:.1f} MiB"
