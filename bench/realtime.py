"""Realtime: broadcast delivery to 100, 1,000 and 5,000 sockets on one Bazaar worker, next to a
bare `websockets` broadcast server measured by the same client in the same run.

Latency runs until the *last* socket has the message (p50/p99 over rounds), counted from the
message's server timestamp (fan-out) and from the publish call (end to end); throughput is
messages delivered per second during a burst. Bazaar publishes through
`POST /api/v1/notifications/broadcast` (HTTP, admin auth, history, per-socket queues); the
baseline through a WebSocket message it hands to `websockets.broadcast()`. The client is one
Python process, which caps what either server can show (~30k received messages/s here); with
few sockets Bazaar's msgs/s is bounded by how fast its broadcast endpoint takes posts (each one
authenticated), not by delivery.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from bazaar.auth.context import auth_context
from bazaar.auth.roles import Role
from bazaar.auth.service import create_user
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bench.harness import bazaar_server, free_port, start_server

ADMIN = {"email": "bench-admin@example.com", "password": "benchmarks all night long"}
CUSTOMER = {"email": "bench-customer@example.com", "password": "benchmarks all night long"}
CONNECT_AT_ONCE = 200
Trigger = Callable[[int], Awaitable[None]]


@dataclass
class Figures:
    """`fanout` runs from the message's server timestamp to the last socket having it;
    `e2e` from the publish call (Bazaar: the HTTP POST, with its auth) to the same moment."""

    sockets: int
    fanout_p50_ms: float
    fanout_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    msgs_per_s: float
    lost_sockets: int
    server_kib_per_socket: float


@dataclass
class Deliveries:
    """Counts, per message number, how many sockets have it; notes when the last one does."""

    sockets: int
    counts: dict[int, int] = field(default_factory=dict)
    done: dict[int, asyncio.Event] = field(default_factory=dict)
    finished_at: dict[int, float] = field(default_factory=dict)
    fanout_ms: dict[int, float] = field(default_factory=dict)
    published_at: dict[int, float] = field(default_factory=dict)
    received: int = 0

    def expect(self, number: int) -> asyncio.Event:
        return self.done.setdefault(number, asyncio.Event())

    def got(self, number: int, timestamp: str) -> None:
        self.received += 1
        count = self.counts[number] = self.counts.get(number, 0) + 1
        if count == 1:
            self.published_at[number] = datetime.fromisoformat(timestamp).timestamp()
        if count == self.sockets:
            self.finished_at[number] = time.perf_counter()
            self.fanout_ms[number] = (time.time() - self.published_at[number]) * 1000
            self.expect(number).set()


async def _read(connection: ClientConnection, deliveries: Deliveries) -> None:
    async for raw in connection:
        message = orjson.loads(raw)
        if message.get("type") == "system_maintenance":
            deliveries.got(int(message["data"]["message"]), message["timestamp"])
        elif message.get("type") == "heartbeat":
            await connection.send('{"type": "pong"}')


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pid_listening_on(port: str) -> int:
    """The `bazaar serve` process the harness started (it runs Uvicorn in-process)."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and port.encode() in argv:
            return int(entry.name)
    raise RuntimeError(f"no server process for port {port}")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


async def _measure(
    url: str, sockets: int, trigger: Trigger, *, rounds: int, burst: int, server_pid: int
) -> Figures:
    deliveries = Deliveries(sockets)
    before = _rss_kib(server_pid)
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    for start in range(0, sockets, CONNECT_AT_ONCE):
        batch = range(start, min(sockets, start + CONNECT_AT_ONCE))
        opened = await asyncio.gather(
            *(connect(url, max_queue=None, ping_interval=None, open_timeout=120) for _ in batch)
        )
        connections += opened
        readers += [asyncio.create_task(_read(c, deliveries)) for c in opened]
    per_socket = (_rss_kib(server_pid) - before) / sockets
    await asyncio.sleep(0.5)  # welcome messages and handshakes settle
    try:
        latencies = []
        for number in range(rounds):
            started = time.perf_counter()
            await trigger(number)
            await asyncio.wait_for(deliveries.expect(number).wait(), 30)
            latencies.append((deliveries.finished_at[number] - started) * 1000)
        fanout = [deliveries.fanout_ms[n] for n in range(rounds)]
        first = rounds
        numbers = range(first, first + burst)
        started, received = time.perf_counter(), deliveries.received
        gate = asyncio.Semaphore(32)

        async def fire(number: int) -> None:
            async with gate:
                await trigger(number)

        await asyncio.gather(*(fire(n) for n in numbers))
        await asyncio.wait_for(asyncio.gather(*(deliveries.expect(n).wait() for n in numbers)), 120)
        elapsed = time.perf_counter() - started
        lost = sum(1 for c in connections if c.close_code is not None)
        return Figures(
            sockets,
            _percentile(fanout, 0.5),
            _percentile(fanout, 0.99),
            _percentile(latencies, 0.5),
            _percentile(latencies, 0.99),
            (deliveries.received - received) / elapsed,
            lost,
            per_socket,
        )
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)


def _report(name: str, figures: Figures, baseline: Figures | None = None) -> None:
    line = (
        f"{name:<40} fan-out p50 {figures.fanout_p50_ms:>7.1f} p99 {figures.fanout_p99_ms:>7.1f} ms"
        f"  end-to-end p50 {figures.e2e_p50_ms:>7.1f} p99 {figures.e2e_p99_ms:>7.1f} ms"
        f"  {figures.msgs_per_s:>7.0f} msgs/s  {figures.server_kib_per_socket:>5.1f} KiB/socket"
        f"  lost {figures.lost_sockets}"
    )
    if baseline is not None and figures.fanout_p50_ms and baseline.msgs_per_s:
        line += (
            f"  ratio fan-out p50 {baseline.fanout_p50_ms / figures.fanout_p50_ms:.2f}"
            f" msgs/s {figures.msgs_per_s / baseline.msgs_per_s:.2f}"
        )
    print(line, flush=True)


@contextmanager
def _baseline_server() -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_ws", str(port)]
    env = {"PYTHONPATH": str(Path(__file__).parent.parent)}
    with start_server(argv, port, env) as process:
        yield f"ws://127.0.0.1:{port}", process.pid


def _baseline(sockets: int, rounds: int, burst: int) -> Figures:
    async def run() -> Figures:
        with _baseline_server() as (url, pid):
            async with connect(f"{url}/publish") as publisher:

                async def trigger(number: int) -> None:
                    message = {
                        "type": "system_maintenance",
                        "timestamp": datetime.now(UTC).isoformat(),
                        "data": {"message": str(number)},
                    }
                    await publisher.send(orjson.dumps(message).decode())

                return await _measure(
                    f"{url}/", sockets, trigger, rounds=rounds, burst=burst, server_pid=pid
                )

    return asyncio.run(run())


@contextmanager
def _bazaar() -> Iterator[tuple[str, dict[str, str], str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "BAZAAR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "BAZAAR_ENVIRONMENT": "test",
            "BAZAAR_LOG_LEVEL": "WARNING",
            # The burst outpaces the one client process on purpose; let queues absorb it
            # rather than measuring slow-client drops.
            "BAZAAR_WS_SEND_QUEUE": "1000000",
            "BAZAAR_AUTH_LIMIT_PER_USER": "100000000/minute",
        }
        with bazaar_server(env) as url:
            asyncio.run(_create_accounts(env["BAZAAR_DATABASE_URL"]))
            tokens = [
                httpx.post(f"{url}/api/v1/auth/login", json=account, timeout=30)
                .raise_for_status()
                .json()["access_token"]
                for account in (ADMIN, CUSTOMER)
            ]
            pid = _pid_listening_on(url.rsplit(":", 1)[1])
            yield url, {"Authorization": f"Bearer {tokens[0]}"}, tokens[1], pid


async def _create_accounts(database_url: str) -> None:
    """The admin who broadcasts and the customer whose sockets listen, straight into the
    server's database (as `bazaar user create` does, without two more process starts)."""
    settings = Settings(environment="test", database_url=database_url)
    runtime = Runtime.create(settings)
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            for account, role in ((ADMIN, Role.ADMIN), (CUSTOMER, Role.CUSTOMER)):
                await create_user(
                    session=session,
                    email=account["email"],
                    password=account["password"],
                    full_name="Bench",
                    role=role,
                    hasher=auth_context(runtime).hasher,
                )
    finally:
        await runtime.close()


def _bazaar_run(
    url: str, admin: dict[str, str], token: str, pid: int, sockets: int, **kw: int
) -> Figures:
    async def run() -> Figures:
        async with httpx.AsyncClient(base_url=url, headers=admin, timeout=30) as http:

            async def trigger(number: int) -> None:
                answer = await http.post(
                    "/api/v1/notifications/broadcast", json={"message": str(number)}
                )
                answer.raise_for_status()

            ws_url = url.replace("http://", "ws://") + f"/ws?token={token}"
            return await _measure(ws_url, sockets, trigger, server_pid=pid, **kw)

    return asyncio.run(run())


def run(smoke: bool) -> None:
    sizes = [100] if smoke else [100, 1_000, 5_000]
    rounds = 5 if smoke else 30
    with _bazaar() as (url, admin, token, pid):
        for sockets in sizes:
            burst = 50 if smoke else max(20, 100_000 // sockets)
            baseline = _baseline(sockets, rounds, burst)
            _report(f"websockets.broadcast, {sockets} sockets (baseline)", baseline)
            figures = _bazaar_run(url, admin, token, pid, sockets, rounds=rounds, burst=burst)
            _report(f"bazaar /ws broadcast, {sockets} sockets", figures, baseline)
