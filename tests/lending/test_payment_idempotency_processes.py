"""Idempotency across real server processes on one database, one of them killed (SIGKILL) with
a payment written but not committed: the retry is answered at once, never after a timer."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backends import Backend
from tests.commit_hold import HOLD_ENV
from tests.lending.conftest import API, Lending, today

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    process: asyncio.subprocess.Process
    url: str

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(
    backend: Backend, workdir: Path, *, hold: Path | None = None
) -> AsyncIterator[Server]:
    """A Uvicorn process serving `tests.commit_hold:create_app` on the test database."""
    port = _free_port()
    env = {
        **os.environ,
        "BAZAAR_DATABASE_URL": backend.database_url,
        "BAZAAR_ENVIRONMENT": "test",
        "BAZAAR_LOG_LEVEL": "WARNING",
        "BAZAAR_SCHEDULER_ENABLED": "false",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    }
    if backend.redis_url is not None:
        env["BAZAAR_REDIS_URL"] = backend.redis_url
    if hold is not None:
        env[HOLD_ENV] = str(hold)
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "tests.commit_hold:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            cwd=workdir, env=env, stdout=log, stderr=log,
        )  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            for _ in range(400):
                if process.returncode is not None:
                    raise AssertionError(f"server exited:\n{log_path.read_text()[-3000:]}")
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"server did not start:\n{log_path.read_text()[-3000:]}")
        yield server
    finally:
        if process.returncode is None:
            await server.kill()


async def _appears(path: Path) -> None:
    for _ in range(1500):
        if await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} did not appear")


def _payment(loan_id: str) -> dict[str, Any]:
    return {
        "loan_id": loan_id,
        "amount": "250.00",
        "paid_on": today().isoformat(),
        "method": "cash",
    }


async def _payments_of(lending: Lending, loan_id: str) -> list[dict[str, Any]]:
    answer = await lending.client.get(
        f"{API}/payments/loan/{loan_id}", headers=lending.officer.headers
    )
    return list(answer.json()["items"])


async def test_a_retry_after_a_kill_between_claim_and_commit_runs_anew(
    lending: Lending, backend: Backend, tmp_path: Path
) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    body = _payment(loan["id"])
    headers = {**lending.officer.headers, "Idempotency-Key": "crash-1"}
    held = tmp_path / "held"

    async with (
        serving(backend, tmp_path, hold=held) as doomed,
        serving(backend, tmp_path) as survivor,
        httpx.AsyncClient(timeout=60) as http,
    ):

        def pay(server: Server) -> Any:
            return http.post(f"{server.url}{API}/payments/", json=body, headers=headers)

        first = asyncio.create_task(pay(doomed))
        await _appears(held)
        waiting = None
        if backend.name == "postgres":
            # The claimant's transaction lives: its duplicate is refused at once.
            duplicate = await pay(survivor)
            assert duplicate.status_code == 409, duplicate.text
            assert duplicate.json()["error"]["code"] == "idempotency_key_in_flight"
        else:
            # SQLite: the held transaction has the write lock; the duplicate waits for it.
            waiting = asyncio.create_task(pay(survivor))
            await asyncio.sleep(0.5)
            assert not waiting.done()

        await doomed.kill()
        with pytest.raises(httpx.TransportError):
            await first
        retried = await (waiting or pay(survivor))
        replayed = await pay(survivor)

    assert retried.status_code == 201, retried.text
    assert retried.headers.get("Idempotent-Replayed") is None
    assert replayed.status_code == 201
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.content == retried.content
    assert [p["id"] for p in await _payments_of(lending, loan["id"])] == [retried.json()["id"]]


async def test_fifty_duplicates_over_two_processes_make_one_payment(
    lending: Lending, backend: Backend, tmp_path: Path
) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    body = _payment(loan["id"])
    headers = {**lending.officer.headers, "Idempotency-Key": "burst"}

    async with (
        serving(backend, tmp_path) as one,
        serving(backend, tmp_path) as other,
        httpx.AsyncClient(timeout=60) as http,
    ):
        answers = await asyncio.gather(
            *(
                http.post(f"{server.url}{API}/payments/", json=body, headers=headers)
                for server in [one, other] * 25
            )
        )

    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert len(await _payments_of(lending, loan["id"])) == 1
