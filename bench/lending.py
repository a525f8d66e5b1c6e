"""Lending: authenticated GET /api/v1/loans/{id} and POST /api/v1/payments/ next to a raw
aiosqlite endpoint doing the same read / insert (bench/lending_raw.py), in the same run.

Targets (issue 4): read >= 0.75 of raw, write >= 0.5 of raw, 0 errors. Payments go round-robin
over many disbursed loans, as a branch's collections would; the raw inserts use loans of their own.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import orjson

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.auth.service import create_user
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.lending import service
from bazaar.lending.rules import LoanCommand
from bazaar.lending.schemas import CustomerCreate, LoanCreate
from bazaar.runtime import Runtime
from bench.harness import BIN, bazaar_server, free_port, load, report, start_server

PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway database
LOANS = 50


@dataclass(frozen=True)
class Portfolio:
    officer_id: str
    api_loans: list[str]
    raw_loans: list[str]


async def _seed(database_url: str) -> Portfolio:
    settings = Settings(_env_file=None, environment="test", database_url=database_url)  # type: ignore[call-arg]
    runtime = Runtime.create(settings)
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            admin = await create_user(
                session=session,
                email="admin@bench.bazaar",
                password=PASSWORD,
                full_name="Bench Admin",
                role=Role.ADMIN,
            )
            officer = await create_user(
                session=session,
                email="officer@bench.bazaar",
                password=PASSWORD,
                full_name="Bench Officer",
                role=Role.OFFICER,
            )
            as_admin = Principal(user_id=admin.id, role=Role.ADMIN)
            as_officer = Principal(user_id=officer.id, role=Role.OFFICER)
            disbursed_on = service.today() - timedelta(days=45)
            loans = []
            for number in range(2 * LOANS):
                customer = await service.create_customer(
                    session=session,
                    principal=as_officer,
                    data=CustomerCreate(
                        full_name=f"Borrower {number}", phone=f"+91 90000 {number:05}"
                    ),
                )
                loan = await service.create_loan(
                    session=session,
                    principal=as_officer,
                    data=LoanCreate(
                        customer_id=customer.id,
                        principal=Decimal("10000000.00"),
                        annual_rate=Decimal("12"),
                        installments=24,
                        expected_disbursement_date=disbursed_on,
                    ),
                )
                for command, actor in (
                    (LoanCommand.SUBMIT, as_officer),
                    (LoanCommand.APPROVE, as_admin),
                    (LoanCommand.DISBURSE, as_admin),
                ):
                    await service.transition(
                        session=session,
                        principal=actor,
                        loan=loan,
                        command=command,
                        on=disbursed_on,
                    )
                loans.append(str(loan.id))
        return Portfolio(str(officer.id), loans[:LOANS], loans[LOANS:])
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


def _raw_payments(loans: list[str], officer_id: str) -> Callable[[int], bytes]:
    cycle = itertools.cycle(loans)
    today = str(service.today())

    def body(_: int) -> bytes:
        return orjson.dumps(
            {
                "loan_id": next(cycle),
                "amount": "1.00",
                "paid_on": today,
                "method": "cash",
                "recorded_by": officer_id,
            }
        )

    return body


def _api_payments(loans: list[str]) -> Callable[[int], bytes]:
    cycle = itertools.cycle(loans)
    today = str(service.today())

    def body(_: int) -> bytes:
        return orjson.dumps(
            {"loan_id": next(cycle), "amount": "1.00", "paid_on": today, "method": "cash"}
        )

    return body


def run(smoke: bool) -> None:
    seconds = 1.0 if smoke else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lending.db"
        env = {
            "BAZAAR_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
            # One user drives all the load: the per-user limit would turn it into 429s.
            "BAZAAR_AUTH_LIMIT_PER_USER": "100000000/minute",
        }
        with bazaar_server(env) as url:
            portfolio = asyncio.run(_seed(env["BAZAAR_DATABASE_URL"]))
            auth = {"Authorization": f"Bearer {_token(url)}", "Content-Type": "application/json"}
            raw_port = free_port()
            raw_argv = [
                str(BIN / "uvicorn"),
                "bench.lending_raw:app",
                "--port",
                str(raw_port),
                "--log-level",
                "warning",
            ]
            raw_env = {
                "BENCH_SQLITE_PATH": str(path),
                "PYTHONPATH": str(Path(__file__).parent.parent),
                **os.environ,
            }
            with start_server(raw_argv, raw_port, raw_env):
                raw = f"http://127.0.0.1:{raw_port}"
                loan = portfolio.api_loans[0]
                raw_read = load(f"{raw}/raw/loans/{loan}", seconds=seconds)
                report("raw aiosqlite GET loan + arrears", raw_read)
                read = load(f"{url}/api/v1/loans/{loan}", seconds=seconds, headers=auth)
                report("bazaar GET /api/v1/loans/{id} (auth)", read, raw_read)
                # Authentication reads the database on every request (revocation takes effect at
                # once): this line shows how much of the ratio is that, not lending.
                me = load(f"{url}/api/v1/auth/me", seconds=seconds, headers=auth)
                report("bazaar GET /api/v1/auth/me (auth alone)", me, raw_read)
                raw_write = load(
                    f"{raw}/raw/payments/",
                    seconds=seconds,
                    method="POST",
                    headers={"Content-Type": "application/json"},
                    body_fn=_raw_payments(portfolio.raw_loans, portfolio.officer_id),
                )
                report("raw aiosqlite INSERT payment", raw_write)
                write = load(
                    f"{url}/api/v1/payments/",
                    seconds=seconds,
                    method="POST",
                    headers=auth,
                    body_fn=_api_payments(portfolio.api_loans),
                )
                report("bazaar POST /api/v1/payments/ (auth)", write, raw_write)
