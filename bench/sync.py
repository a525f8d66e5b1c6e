"""Sync: an officer's offline day (200 customers, 200 applications, 500 repayments) pushed
from a field node to a hub process and the hub's answer pulled back, next to the database's
own bulk insert of the same rows and to one-request-per-record sync of a tenth of the same day
(the same mix of customers, applications and repayments), in the same run.

Targets (issue 6): >= 0.5 of bulk insert, >= 20x per-record, < 10 s for the day.
The hub is a real `bazaar serve` (SQLite); the node's day is written through lending's
services into the node's own database, exactly as its API would, so the outbox is real.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import func, insert, select

import bazaar.domains  # noqa: F401 - plugs the domains into sync
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.auth.service import create_user
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.lending import repayments, service
from bazaar.lending.models import Customer, Loan, Payment
from bazaar.lending.rules import LoanCommand
from bazaar.lending.schemas import CustomerCreate, LoanCreate, PaymentCreate
from bazaar.migrate import upgrade
from bazaar.runtime import Runtime
from bazaar.stamps import new_id, utcnow
from bazaar.sync.compaction import compact
from bazaar.sync.models import ChangeLog
from bazaar.sync.worker import SyncWorker, worker_for
from bench.harness import BIN, free_port, start_server
from bench.portfolio import PASSWORD, disbursed_loan, staff


@dataclass(frozen=True)
class Day:
    customers: int
    loans: int
    payments: int
    active_loans: int

    @property
    def records(self) -> int:
        return self.customers + self.loans + self.payments


def _settings(url: str, **extra: object) -> Settings:
    values = {"environment": "test", "database_url": url, "log_level": "WARNING", **extra}
    return Settings.model_validate(values)


async def _seed_hub(url: str, day: Day) -> tuple[Principal, list[str]]:
    runtime = Runtime.create(_settings(url))
    try:
        await upgrade(runtime.db.engine)
        async with unit_of_work(runtime.db, runtime.events) as session:
            admin, officer = await staff(session=session)
            disbursed_on = service.today() - timedelta(days=40)
            loans = []
            for number in range(day.active_loans):
                loan = await disbursed_loan(
                    session=session,
                    officer=officer,
                    admin=admin,
                    customer=CustomerCreate(full_name=f"Active {number}", phone="+91 90000 00000"),
                    principal=Decimal("500000.00"),
                    on=disbursed_on,
                )
                loans.append(str(loan.id))
        return officer, loans
    finally:
        await runtime.close()


async def _offline_day(
    runtime: Runtime, officer: Principal, loans: list[str], day: Day, tag: str
) -> None:
    async with unit_of_work(runtime.db, runtime.events) as session:
        for number in range(day.customers):
            customer = await service.create_customer(
                session=session,
                principal=officer,
                data=CustomerCreate(full_name=f"{tag} {number}", phone="+91 91111 00000"),
            )
            if number < day.loans:
                loan = await service.create_loan(
                    session=session,
                    principal=officer,
                    data=LoanCreate(
                        customer_id=customer.id,
                        principal=Decimal("20000.00"),
                        annual_rate=Decimal("18"),
                        installments=12,
                        expected_disbursement_date=service.today(),
                    ),
                )
                await service.transition(
                    session=session, principal=officer, loan=loan, command=LoanCommand.SUBMIT
                )
        for number in range(day.payments):
            await repayments.record_payment(
                session=session,
                principal=officer,
                data=PaymentCreate.model_validate(
                    {
                        "loan_id": loans[number % len(loans)],
                        "amount": "10.00",
                        "paid_on": service.today(),
                        "method": "cash",
                    }
                ),
            )


async def _until_quiet(worker: SyncWorker) -> int:
    pushed = 0
    for _ in range(50):
        report = await worker.cycle()
        if report.error:
            raise RuntimeError(report.error)
        pushed += report.pushed
        if report.pushed == report.pulled == 0:
            return pushed
    raise RuntimeError("no quiet after 50 cycles")


async def _compacted(url: str) -> tuple[int, int, float]:
    """The hub's change log before and after a compaction of all of it, and its seconds."""
    runtime = Runtime.create(_settings(url))
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            before = await session.scalar(select(func.count()).select_from(ChangeLog))
            started = time.perf_counter()
            done = await compact(session=session, before=utcnow() + timedelta(minutes=1))
            seconds = time.perf_counter() - started
    finally:
        await runtime.close()
    return int(before or 0), done.kept, seconds


async def _bulk_insert_rate(url: str, day: Day) -> float:
    """The same rows through SQLAlchemy Core executemany into a fresh database."""
    runtime = Runtime.create(_settings(url))
    try:
        await upgrade(runtime.db.engine)
        now, today = utcnow(), service.today()
        async with unit_of_work(runtime.db, runtime.events) as session:
            officer = await create_user(
                session=session,
                email="officer@bench.bazaar",
                password=PASSWORD,
                full_name="Officer",
                role=Role.OFFICER,
            )
        common = {
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "updated_hlc": "0",
            "origin_node": "bulk",
        }
        customers = [
            {
                "id": new_id(),
                "full_name": f"Bulk {n}",
                "phone": "+91 91111 00000",
                "officer_id": officer.id,
                **common,
            }
            for n in range(day.customers)
        ]
        loans = [
            {
                "id": new_id(),
                "customer_id": customers[n]["id"],
                "officer_id": officer.id,
                "created_by": officer.id,
                "principal": Decimal("20000.00"),
                "annual_rate": Decimal("18"),
                "installments": 12,
                "frequency": "monthly",
                "interest_method": "declining_balance",
                "amortization": "equal_installments",
                "expected_disbursement_date": today,
                "status": "submitted",
                **common,
            }
            for n in range(day.loans)
        ]
        payments = [
            {
                "id": new_id(),
                "loan_id": loans[n % len(loans)]["id"],
                "amount": Decimal("10.00"),
                "paid_on": today,
                "method": "cash",
                "recorded_by": officer.id,
                **common,
            }
            for n in range(day.payments)
        ]
        started = time.perf_counter()
        async with runtime.db.engine.begin() as conn:
            for model, rows in ((Customer, customers), (Loan, loans), (Payment, payments)):
                await conn.execute(insert(model), rows)
        return day.records / (time.perf_counter() - started)
    finally:
        await runtime.close()


async def _measure(
    tmp: Path, hub_url: str, officer: Principal, loans: list[str], day: Day, key: str
) -> dict[str, float]:
    node_url = f"sqlite+aiosqlite:///{tmp / 'node.db'}"
    runtime = Runtime.create(
        _settings(
            node_url, node_id="bench-laptop", sync_hub_url=hub_url, sync_api_key=SecretStr(key)
        )
    )
    try:
        await upgrade(runtime.db.engine)
        worker = await worker_for(runtime)
        await _until_quiet(worker)  # joining: the officer's portfolio arrives
        await _offline_day(runtime, officer, loans, day, "Offline")
        started = time.perf_counter()
        await _until_quiet(worker)
        day_seconds = time.perf_counter() - started
        # A tenth of the day in the same mix: customers alone are the hub's cheapest records.
        one_by_one = Day(
            customers=max(2, day.customers // 10),
            loans=max(2, day.loans // 10),
            payments=max(5, day.payments // 10),
            active_loans=0,
        )
        await _offline_day(runtime, officer, loans, one_by_one, "Single")
        worker.sizer.minimum = worker.sizer.maximum = worker.sizer.size = 1
        started = time.perf_counter()
        await _until_quiet(worker)
        per_record = one_by_one.records / (time.perf_counter() - started)
    finally:
        await runtime.close()
    return {"seconds": day_seconds, "rate": day.records / day_seconds, "per_record": per_record}


def _api_key(hub: str) -> str:
    def login(email: str) -> dict[str, str]:
        answer = httpx.post(
            f"{hub}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    admin = login("admin@bench.bazaar")
    me = httpx.get(
        f"{hub}/api/v1/auth/me", headers=login("officer@bench.bazaar"), timeout=30
    ).json()
    answer = httpx.post(
        f"{hub}/api/v1/api-keys",
        json={"name": "bench laptop", "scope": "write", "owner_id": me["id"]},
        headers=admin,
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["key"])


def run(smoke: bool) -> None:
    day = Day(20, 20, 50, 5) if smoke else Day(200, 200, 500, 20)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        hub_db = f"sqlite+aiosqlite:///{tmp / 'hub.db'}"
        officer, loans = asyncio.run(_seed_hub(hub_db, day))
        port = free_port()
        env = {
            "BAZAAR_DATABASE_URL": hub_db,
            "BAZAAR_ENVIRONMENT": "test",
            "BAZAAR_LOG_LEVEL": "WARNING",
            "BAZAAR_SCHEDULER_ENABLED": "false",
        }
        argv = [str(BIN / "bazaar"), "serve", "--port", str(port), "--workers", "1"]
        with start_server(argv, port, env):
            hub = f"http://127.0.0.1:{port}"
            figures = asyncio.run(_measure(tmp, hub, officer, loans, day, _api_key(hub)))
        bulk = asyncio.run(_bulk_insert_rate(f"sqlite+aiosqlite:///{tmp / 'bulk.db'}", day))
        logged, kept, compacting = asyncio.run(_compacted(hub_db))
    seconds, rate = figures["seconds"], figures["rate"]
    print(
        f"{'offline day, node -> hub -> node':<44} {day.records} records in {seconds:.2f} s "
        f"= {rate:.0f} records/s (target < 10 s)",
        flush=True,
    )
    print(
        f"{'bulk insert of the same rows (Core)':<44} {bulk:>9.0f} records/s  "
        f"ratio {rate / bulk:.3f} (target >= 0.5)",
        flush=True,
    )
    print(
        f"{'one request per record':<44} {figures['per_record']:>9.0f} records/s  "
        f"batched/per-record {figures['rate'] / figures['per_record']:.1f}x (target >= 20x)",
        flush=True,
    )
    print(
        f"{'hub change log, compacted':<44} {logged} entries -> {kept} "
        f"({kept / logged:.2f} kept) in {compacting * 1000:.0f} ms",
        flush=True,
    )


if __name__ == "__main__":
    run(smoke=os.environ.get("SMOKE") == "1")
