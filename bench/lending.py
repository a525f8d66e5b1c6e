"""Lending: authenticated GET /api/v1/loans/{id} and POST /api/v1/payments next to routes of
the same app doing the same read / writes with the raw driver (bench/lending_raw.py), on SQLite
and, when reachable, PostgreSQL.

Targets (issue 4): read >= 0.75 of raw, write >= 0.5 of raw, 0 errors. The write is compared
with two raw baselines: the payment row inserted alone, and every row recording a repayment
writes (allocation, installments, loan balances, change log). Payments go round-robin over many
disbursed loans, as a branch's collections would; each baseline uses loans of its own. Full
runs interleave three rounds of the loads compared and pool them (bench.harness.interleaved).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import orjson

from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.lending import service
from bazaar.runtime import Runtime
from bench.harness import BIN, Stats, free_port, interleaved, load, report, start_server
from bench.portfolio import PASSWORD, disbursed_loans, staff

LOANS = 50
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres@127.0.0.1:5432")


@dataclass(frozen=True)
class Portfolio:
    officer_id: str
    api_loans: list[str]
    raw_loans: list[str]
    raw_repaid_loans: list[str]


async def _seed(database_url: str) -> Portfolio:
    settings = Settings(_env_file=None, environment="test", database_url=database_url)
    runtime = Runtime.create(settings)
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            admin, officer = await staff(session=session)
            loans = await disbursed_loans(
                session=session, officer=officer, admin=admin, count=3 * LOANS
            )
        return Portfolio(
            str(officer.user_id), loans[:LOANS], loans[LOANS : 2 * LOANS], loans[2 * LOANS :]
        )
    finally:
        await runtime.close()


def _token(base_url: str) -> str:
    answer = httpx.post(
        f"{base_url}/api/v1/auth/login",
        json={"email": "officer@bench.bazaar", "password": PASSWORD},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _payments(loans: list[str]) -> list[bytes]:
    """One payment body per loan; the load generator sends them round-robin."""
    today = str(service.today())
    return [
        orjson.dumps({"loan_id": loan, "amount": "1.00", "paid_on": today, "method": "cash"})
        for loan in loans
    ]


@contextmanager
def _database(backend: str) -> Iterator[str | None]:
    """A fresh database URL for one pass, or None when the backend is unreachable."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'lending.db'}"
        return
    name = f"bench_lending_{os.getpid()}"
    try:
        asyncio.run(_admin_sql(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        print(f"(PostgreSQL unreachable at {POSTGRES}: {exc}; skipped)")
        yield None
        return
    try:
        yield f"postgresql+asyncpg://{POSTGRES}/{name}"
    finally:
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin_sql(statement: str) -> None:
    connection = await asyncio.wait_for(asyncpg.connect(f"postgresql://{POSTGRES}/test"), 5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def migrated_portfolio(database_url: str) -> tuple[dict[str, str], Portfolio]:
    """The servers' environment for `database_url`, migrated and seeded with a portfolio."""
    return migrated_env(database_url), asyncio.run(_seed(database_url))


def migrated_env(database_url: str) -> dict[str, str]:
    """The servers' environment for `database_url`, once `bazaar migrate` has run there."""
    root = str(Path(__file__).parent.parent)
    env = {
        **os.environ,
        "BAZAAR_DATABASE_URL": database_url,
        "BAZAAR_ENVIRONMENT": "test",
        "BAZAAR_LOG_LEVEL": "WARNING",
        "BAZAAR_SCHEDULER_ENABLED": "false",
        # One user drives all the load: the per-user limit would turn it into 429s.
        "BAZAAR_AUTH_LIMIT_PER_USER": "100000000/minute",
        "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), root) if p),
    }
    subprocess.run([str(BIN / "bazaar"), "migrate"], env=env, check=True, capture_output=True)
    return env


def _pass(backend: str, database_url: str, seconds: float, rounds: int) -> None:
    env, portfolio = migrated_portfolio(database_url)
    port = free_port()
    argv = [str(BIN / "uvicorn"), "bench.lending_raw:app", "--port", str(port)]
    with start_server([*argv, "--log-level", "warning"], port, env):
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {_token(url)}", "Content-Type": "application/json"}
        loan = portfolio.api_loans[0]

        def get(path: str, headers: dict[str, str] | None = None) -> Callable[[], Stats]:
            return lambda: load(url + path, seconds=seconds, headers=headers)

        def pay(path: str, loans: list[str]) -> Callable[[], Stats]:
            bodies = _payments(loans)
            return lambda: load(
                url + path, seconds=seconds, method="POST", headers=auth, bodies=bodies
            )

        reads = interleaved(
            {
                "bare": get(f"/bench/bare/loans/{loan}/{portfolio.officer_id}"),
                "raw": get(f"/bench/raw/loans/{loan}", auth),
                "api": get(f"/api/v1/loans/{loan}", auth),
            },
            rounds,
        )
        report(f"[{backend}] raw driver GET loan, no auth", reads["bare"])
        report(f"[{backend}] raw driver GET loan (auth)", reads["raw"], reads["bare"])
        report(f"[{backend}] GET /api/v1/loans/{{id}} (auth)", reads["api"], reads["raw"])
        writes = interleaved(
            {
                "insert": pay("/bench/raw/payments", portfolio.raw_loans),
                "rows": pay("/bench/raw/repayments", portfolio.raw_repaid_loans),
                "api": pay("/api/v1/payments", portfolio.api_loans),
            },
            rounds,
        )
        report(f"[{backend}] raw driver INSERT payment (auth)", writes["insert"])
        report(
            f"[{backend}] raw driver, a repayment's rows (auth)", writes["rows"], writes["insert"]
        )
        report(f"[{backend}] POST /api/v1/payments (auth)", writes["api"], writes["insert"])
        report(f"[{backend}]   the same, against a repayment's rows", writes["api"], writes["rows"])


def run(smoke: bool) -> None:
    # Full runs interleave three rounds of each load, so a ratio's two sides share the drift.
    seconds, rounds = (1.0, 1) if smoke else (5.0, 3)
    for backend in ("sqlite", "postgres"):
        with _database(backend) as database_url:
            if database_url is not None:
                _pass(backend, database_url, seconds, rounds)
