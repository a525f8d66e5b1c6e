"""Realtime: broadcast delivery to 100, 1,000 and 5,000 sockets on one Bazaar worker, next to a
bare `websockets` broadcast server measured by the same client in the same run.

Latency runs until the *last* socket has the message (p50/p99 over rounds), counted from the
message's server timestamp (fan-out) and from the publish call (end to end); throughput is
messages delivered per second during a burst. Bazaar publishes through
`POST /api/v1/notifications/broadcast` (HTTP, admin auth, history, per-socket queues); the
baseline through a WebSocket message it hands to `websockets.broadcast()`. With few sockets
Bazaar's msgs/s is bounded by how fast its broadcast endpoint takes posts (each one
authenticated), not by delivery.

The sockets are spread over `CLIENT_PROCESSES` client processes (`bench/realtime_clients.py`,
sans-I/O sockets), which report receive times as `time.time()`, comparable across processes.
The server gets one core and the clients the rest: measured on 2 cores, one client process
receives 220k+ messages/s, far beyond either server, and 1,000 sockets gave Bazaar p99
29-34 ms with 1 process, 36-47 with 2 and 50 with 4 (bare: 13-21, 17-47, 26), because every
extra client process takes CPU from the server under test. The earlier asyncio client capped
both servers at ~30k messages/s per process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from bazaar.auth.context import auth_context
from bazaar.auth.roles import Role
from bazaar.auth.service import create_user
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bench.harness import bazaar_server, free_port, start_server

ADMIN = {"email": "bench-admin@example.com", "password": "benchmarks all night long"}
CUSTOMER = {"email": "bench-customer@example.com", "password": "benchmarks all night long"}
# One core for the server under test, the others for clients (see the module docstring).
CLIENT_PROCESSES = max(1, min(4, len(os.sched_getaffinity(0)) - 1))
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
    # Server CPU (all its threads) during the burst over the messages delivered: steadier
    # than latency when other processes share the cores.
    server_us_per_msg: float


class _Clients:
    """The client processes: each holds a share of the sockets and reports, per message,
    when the last socket of its share had it; a message is delivered once every share has."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes
        self.reports: dict[int, list[tuple[float, float]]] = {}
        self.done: dict[int, asyncio.Event] = {}
        self.lost = 0
        self._listeners = [asyncio.create_task(self._listen(p)) for p in processes]
        self._ready = 0
        self.ready = asyncio.Event()

    def expect(self, number: int) -> asyncio.Event:
        return self.done.setdefault(number, asyncio.Event())

    async def wait(self, events: list[asyncio.Event], within: float) -> None:
        """Until every event is set; a client process that dies meanwhile fails the run."""
        waiting = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in events)))
        watched: list[asyncio.Future[Any]] = [waiting, *self._listeners]
        done, _ = await asyncio.wait(watched, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            waiting.cancel()
            raise RuntimeError("a client process exited or the messages did not all arrive")

    def published(self, number: int) -> float:
        return self.reports[number][0][0]

    def finished(self, number: int) -> float:
        return max(last for _, last in self.reports[number])

    async def _listen(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            word, *rest = line.split()
            if word == b"got":
                number = int(rest[0])
                shares = self.reports.setdefault(number, [])
                shares.append((float(rest[1]), float(rest[2])))
                if len(shares) == len(self.processes):
                    self.expect(number).set()
            elif word == b"ready":
                self._ready += 1
                if self._ready == len(self.processes):
                    self.ready.set()
            elif word == b"lost":
                self.lost += int(rest[0])

    async def stop(self) -> None:
        for process in self.processes:
            if process.stdin is not None and process.returncode is None:
                process.stdin.write(b"stop\n")
        try:
            async with asyncio.timeout(30):
                await asyncio.gather(*(p.wait() for p in self.processes))
                await asyncio.gather(*self._listeners)
        except TimeoutError:
            for process in self.processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        for listener in self._listeners:
            listener.cancel()


@asynccontextmanager
async def _clients(url: str, sockets: int, processes: int) -> AsyncIterator[_Clients]:
    shares = [sockets // processes + (i < sockets % processes) for i in range(processes)]
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.realtime_clients",
            url,
            str(share),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        for share in shares
        if share
    ]
    clients = _Clients(started)
    try:
        yield clients
    finally:
        await clients.stop()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    before = _rss_kib(server_pid)
    async with _clients(url, sockets, CLIENT_PROCESSES) as clients:
        await clients.wait([clients.ready], 300)
        per_socket = (_rss_kib(server_pid) - before) / sockets
        await asyncio.sleep(0.5)  # welcome messages and handshakes settle
        latencies, fanout = [], []
        for number in range(rounds):
            started = time.time()
            await trigger(number)
            await clients.wait([clients.expect(number)], 30)
            latencies.append((clients.finished(number) - started) * 1000)
            fanout.append((clients.finished(number) - clients.published(number)) * 1000)
        numbers = range(rounds, rounds + burst)
        started, cpu = time.time(), _cpu_seconds(server_pid)
        gate = asyncio.Semaphore(32)

        async def fire(number: int) -> None:
            async with gate:
                await trigger(number)

        await asyncio.gather(*(fire(n) for n in numbers))
        await clients.wait([clients.expect(n) for n in numbers], 120)
        elapsed = max(clients.finished(n) for n in numbers) - started
        cpu = _cpu_seconds(server_pid) - cpu
    return Figures(
        sockets,
        _percentile(fanout, 0.5),
        _percentile(fanout, 0.99),
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.99),
        burst * sockets / elapsed,
        clients.lost,
        per_socket,
        cpu * 1e6 / (burst * sockets),
    )


def _report(name: str, figures: Figures, baseline: Figures | None = None) -> None:
    line = (
        f"{name:<40} fan-out p50 {figures.fanout_p50_ms:>7.1f} p99 {figures.fanout_p99_ms:>7.1f} ms"
        f"  end-to-end p50 {figures.e2e_p50_ms:>7.1f} p99 {figures.e2e_p99_ms:>7.1f} ms"
        f"  {figures.msgs_per_s:>7.0f} msgs/s  {figures.server_us_per_msg:>5.1f} us/msg"
        f"  {figures.server_kib_per_socket:>5.1f} KiB/socket"
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
