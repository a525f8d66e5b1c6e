"""Start servers on 127.0.0.1, drive bounded load at them, print figures and ratios.

Load comes from wrk when it is installed (`apt-get install wrk`), otherwise from a bounded
asyncio + httpx generator in this process. Both sides of a ratio are always measured the same
way in the same run, because absolute numbers drift on these shared machines.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Stats:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


@contextmanager
def start_server(
    argv: list[str], port: int, env: Mapping[str, str] | None = None, timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until the block ends; stopped by its pid whatever happens."""
    process = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, timeout)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_argv(port: int, workers: int) -> list[str]:
    """`bazaar serve --workers N` as uvicorn's own command, with a longer start-up check:
    uvicorn kills a worker that is not serving 5 s after it was spawned, and with other test
    runs on this machine importing the app took longer, so two workers never came up."""
    return [
        str(BIN / "uvicorn"),
        "bazaar.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--timeout-worker-healthcheck",
        "120",
    ]


@contextmanager
def bazaar_server(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """A migrated Bazaar on a fresh SQLite file (or the given database), one worker."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        full_env = {
            "BAZAAR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "BAZAAR_LOG_LEVEL": "WARNING",
            "BAZAAR_ENVIRONMENT": "test",
            **(env or {}),
        }
        subprocess.run(
            [str(BIN / "bazaar"), "migrate"],
            env={**os.environ, **full_env},
            check=True,
            capture_output=True,
        )
        argv = [str(BIN / "bazaar"), "serve", "--port", str(port), "--workers", "1"]
        with start_server(argv, port, full_env):
            yield f"http://127.0.0.1:{port}"


@contextmanager
def uvicorn_server(app: str) -> Iterator[str]:
    port = free_port()
    argv = [str(BIN / "uvicorn"), app, "--port", str(port), "--log-level", "warning"]
    with start_server(argv, port, {"PYTHONPATH": str(Path(__file__).parent.parent)}):
        yield f"http://127.0.0.1:{port}"


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * fraction))]


@dataclass(frozen=True)
class _Load:
    """What to send, for how long, over how many connections; either generator runs it."""

    url: str
    seconds: float
    concurrency: int
    method: str
    headers: Mapping[str, str]
    # Sent in turn, one per request; empty for requests without a body.
    bodies: Sequence[bytes]


async def _python_load(spec: _Load) -> Stats:
    url, method, headers, bodies = spec.url, spec.method, spec.headers, spec.bodies
    concurrency = spec.concurrency
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + spec.seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                content = bodies[counter % len(bodies)] if bodies else None
                started = time.perf_counter()
                try:
                    response = await http.request(method, url, headers=headers, content=content)
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Stats(
        len(latencies),
        elapsed,
        _percentile(latencies, 0.50),
        _percentile(latencies, 0.99),
        errors,
        "python",
    )


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_script(spec: _Load) -> str:
    lines = [f'wrk.method = "{spec.method}"']
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in spec.headers.items()]
    if spec.bodies:
        quoted = ",\n".join(f"[==[{body.decode()}]==]" for body in spec.bodies)
        lines += [
            f"local bodies = {{\n{quoted}\n}}",
            # Each wrk thread has its own Lua state: setup() hands each a different start, so
            # the threads do not send the same bodies in lockstep.
            "local threads = 0",
            "setup = function(thread)",
            "  threads = threads + 1",
            "  thread:set('n', threads * 7919)",
            "end",
            "request = function()",
            "  n = n % #bodies + 1",
            "  return wrk.format(nil, nil, nil, bodies[n])",
            "end",
        ]
    return "\n".join(lines) + "\n"


def _wrk_load(spec: _Load) -> Stats:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_wrk_script(spec))
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, spec.concurrency)}",
                f"-c{spec.concurrency}",
                f"-d{max(1, round(spec.seconds))}s",
                "--latency",
                "-s",
                script.name,
                spec.url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=spec.seconds + 60,
        ).stdout
    finally:
        os.unlink(script.name)
    latency = {int(p): float(v) * _UNIT_MS[u] for p, v, u in _WRK_LATENCY.findall(out)}
    total = re.search(r"(\d+) requests in ([\d.]+)(s|m)", out)
    assert total, out
    elapsed = float(total.group(2)) * (60 if total.group(3) == "m" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Stats(int(total.group(1)), elapsed, latency[50], latency[99], errors, "wrk")


def load(
    url: str,
    *,
    seconds: float,
    concurrency: int = 16,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    bodies: Sequence[bytes] = (),
) -> Stats:
    """Bounded load: `concurrency` connections for `seconds`, then stop. Requests carry
    `bodies` in turn, if any."""
    spec = _Load(url, seconds, concurrency, method, headers or {}, bodies)
    return _wrk_load(spec) if shutil.which("wrk") else asyncio.run(_python_load(spec))


def interleaved(loads: Mapping[str, Callable[[], Stats]], rounds: int) -> dict[str, Stats]:
    """Run the loads in turn, `rounds` times over, and pool each one's rounds: the drift of
    these shared machines then falls on both sides of a ratio alike."""
    runs: dict[str, list[Stats]] = {name: [] for name in loads}
    for _ in range(rounds):
        for name, run in loads.items():
            runs[name].append(run())
    return {name: _pooled(stats) for name, stats in runs.items()}


def _pooled(rounds: Sequence[Stats]) -> Stats:
    """Rounds of one load as one: all requests over all the time; the median round's p50, the
    worst round's p99."""
    p50s = sorted(r.p50_ms for r in rounds)
    return Stats(
        sum(r.requests for r in rounds),
        sum(r.seconds for r in rounds),
        p50s[len(p50s) // 2],
        max(r.p99_ms for r in rounds),
        sum(r.errors for r in rounds),
        rounds[0].tool,
    )


def report(name: str, stats: Stats, baseline: Stats | None = None) -> None:
    line = (
        f"{name:<44} {stats.rps:>9.0f} req/s  p50 {stats.p50_ms:>7.2f} ms  "
        f"p99 {stats.p99_ms:>7.2f} ms  errors {stats.errors}  [{stats.tool}]"
    )
    if baseline is not None and baseline.rps:
        line += f"  ratio {stats.rps / baseline.rps:.2f}"
    print(line, flush=True)


def hint_if_no_wrk() -> None:
    if not shutil.which("wrk"):
        print("(wrk not found: using the Python load generator; `apt-get install wrk` for more)")
