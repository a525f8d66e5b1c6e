"""The app bench/lending.py measures: Bazaar itself plus baseline routes that do the same loan
read and payment insert with the raw driver (aiosqlite or asyncpg), no ORM, no allocation.

- `/bench/raw/...` authenticate exactly as Bazaar's routes do (`CurrentUser`), so the ratio to
  them is the cost of lending's data path;
- `/bench/bare/...` skip authentication, to show what it costs.

Run as `uvicorn bench.lending_raw:app` with the usual BAZAAR_* environment.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg
import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy.engine import make_url

from bazaar.auth.dependencies import CurrentUser, StaffOnly
from bazaar.config import get_settings
from bazaar.main import create_app

LOAN = """
SELECT l.id, l.customer_id, l.officer_id, l.principal, l.currency, l.annual_rate,
       l.installments, l.frequency, l.interest_method, l.amortization, l.grace_on_principal,
       l.expected_disbursement_date, l.first_repayment_date, l.purpose, l.status, l.version,
       l.created_by, l.submitted_by, l.approved_by, l.disbursed_on, l.closed_on,
       l.written_off_on, l.principal_paid, l.interest_paid, l.principal_outstanding,
       l.interest_outstanding, l.oldest_unpaid_due, l.created_at, l.updated_at,
       (SELECT coalesce(sum(CASE WHEN i.due_date < {as_of} THEN i.principal + i.interest
                 - i.principal_paid - i.interest_paid - i.interest_waived ELSE 0 END), 0)
          FROM loan_installments i WHERE i.loan_id = l.id) AS overdue_amount,
       (SELECT min(CASE WHEN i.due_date >= {as_of} AND i.principal + i.interest
                 - i.principal_paid - i.interest_paid - i.interest_waived > 0
                 THEN i.due_date END)
          FROM loan_installments i WHERE i.loan_id = l.id) AS next_due_date
FROM loans l WHERE l.id = {loan_id} AND l.officer_id = {user_id} AND l.deleted_at IS NULL
"""
INSERT = """
INSERT INTO payments (id, loan_id, amount, paid_on, method, recorded_by, principal_part,
                      interest_part, created_at, updated_at, version)
VALUES ({p1}, {p2}, {p3}, {p4}, 'cash', {p5}, 0, 0, {p6}, {p7}, 1)
"""


class RawDriver:
    """One aiosqlite connection (SQLite has one writer anyway) or an asyncpg pool."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self._ready = asyncio.Lock()
        self._sqlite: aiosqlite.Connection | None = None
        self._pool: asyncpg.Pool | None = None

    async def _open(self) -> None:
        async with self._ready:
            if self._sqlite is None and self._pool is None:
                if self.sqlite:
                    self._sqlite = await aiosqlite.connect(str(self.url.database))
                    await self._sqlite.execute("PRAGMA busy_timeout=10000")
                    await self._sqlite.execute("PRAGMA synchronous=NORMAL")
                else:
                    dsn = self.url.set(drivername="postgresql").render_as_string(False)
                    self._pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)

    def _sql(self, template: str, names: list[str]) -> str:
        marks = ["?"] * len(names) if self.sqlite else [f"${n + 1}" for n in range(len(names))]
        return template.format(**dict(zip(names, marks, strict=True)))

    async def fetch_loan(self, loan_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any] | None:
        await self._open()
        today = datetime.now(UTC).date()
        if self._sqlite is not None:
            sql = self._sql(LOAN.replace("{as_of}", "{a}", 1), ["a", "as_of", "loan_id", "user_id"])
            args = (today.isoformat(), today.isoformat(), loan_id.hex, user_id.hex)
            self._sqlite.row_factory = aiosqlite.Row
            async with self._sqlite.execute(sql, args) as cursor:
                row = await cursor.fetchone()
            return None if row is None else dict(row)
        assert self._pool is not None
        sql = self._sql(LOAN, ["as_of", "loan_id", "user_id"])
        record = await self._pool.fetchrow(sql, today, loan_id, user_id)
        return None if record is None else dict(record)

    async def insert_payment(self, payment: dict[str, str], recorded_by: uuid.UUID) -> str:
        await self._open()
        now = datetime.now(UTC)
        payment_id = uuid.uuid4()
        loan_id = uuid.UUID(payment["loan_id"])
        cents = int(payment["amount"].replace(".", ""))
        sql = self._sql(INSERT, ["p1", "p2", "p3", "p4", "p5", "p6", "p7"])
        if self._sqlite is not None:
            args = (
                payment_id.hex,
                loan_id.hex,
                cents,
                payment["paid_on"],
                recorded_by.hex,
                now.isoformat(),
                now.isoformat(),
            )
            await self._sqlite.execute(sql, args)
            await self._sqlite.commit()
        else:
            assert self._pool is not None
            paid_on = datetime.fromisoformat(payment["paid_on"]).date()
            await self._pool.execute(
                sql, payment_id, loan_id, cents, paid_on, recorded_by, now, now
            )
        return str(payment_id)


driver = RawDriver(get_settings().database_url)
router = APIRouter(prefix="/bench")


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(body, default=str), status_code=status_code, media_type="application/json"
    )


@router.get("/raw/loans/{loan_id}")
async def raw_loan(loan_id: uuid.UUID, principal: CurrentUser) -> Response:
    row = await driver.fetch_loan(loan_id, principal.user_id)
    return _json(row) if row is not None else Response(status_code=404)


@router.get("/bare/loans/{loan_id}/{user_id}")
async def bare_loan(loan_id: uuid.UUID, user_id: uuid.UUID) -> Response:
    row = await driver.fetch_loan(loan_id, user_id)
    return _json(row) if row is not None else Response(status_code=404)


@router.post("/raw/payments/")
async def raw_payment(request: Request, principal: StaffOnly) -> Response:
    payment = orjson.loads(await request.body())
    return _json({"id": await driver.insert_payment(payment, principal.user_id)}, 201)


app = create_app()
app.include_router(router)
