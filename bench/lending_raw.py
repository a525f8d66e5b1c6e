"""The raw-driver side of bench/lending.py: the same loan read and payment insert as Bazaar's
routes, written against aiosqlite directly (no ORM, no auth, no validation, no allocation).

Run as `uvicorn bench.lending_raw:app` with BENCH_SQLITE_PATH pointing at a migrated database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiosqlite
import orjson
from fastapi import FastAPI, Request, Response

LOAN = """
SELECT id, customer_id, officer_id, principal, currency, annual_rate, installments, frequency,
       interest_method, amortization, grace_on_principal, expected_disbursement_date,
       first_repayment_date, purpose, status, version, created_by, submitted_by, approved_by,
       disbursed_on, closed_on, written_off_on, principal_paid, interest_paid,
       principal_outstanding, interest_outstanding, oldest_unpaid_due, created_at, updated_at
FROM loans WHERE id = ?
"""
ARREARS = """
SELECT sum(CASE WHEN due_date < ? THEN principal + interest - principal_paid - interest_paid
                - interest_waived ELSE 0 END),
       min(CASE WHEN due_date >= ? AND principal + interest - principal_paid - interest_paid
                - interest_waived > 0 THEN due_date END)
FROM loan_installments WHERE loan_id = ?
"""
INSERT = """
INSERT INTO payments (id, loan_id, amount, paid_on, method, recorded_by, principal_part,
                      interest_part, created_at, updated_at, version)
VALUES (?, ?, ?, ?, 'cash', ?, 0, 0, ?, ?, 1)
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with aiosqlite.connect(os.environ["BENCH_SQLITE_PATH"]) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=10000")
        app.state.db = db
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/raw/loans/{loan_id}")
async def read_loan(loan_id: uuid.UUID, request: Request) -> Response:
    db: aiosqlite.Connection = request.app.state.db
    db.row_factory = aiosqlite.Row
    async with db.execute(LOAN, (loan_id.hex,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return Response(status_code=404)
    today = datetime.now(UTC).date().isoformat()
    async with db.execute(ARREARS, (today, today, loan_id.hex)) as cursor:
        arrears = await cursor.fetchone()
    body = {**dict(row), "overdue": arrears[0] if arrears else 0}
    return Response(orjson.dumps(body), media_type="application/json")


@app.post("/raw/payments/")
async def insert_payment(request: Request) -> Response:
    db: aiosqlite.Connection = request.app.state.db
    payment = orjson.loads(await request.body())
    now = datetime.now(UTC).isoformat()
    payment_id = uuid.uuid4().hex
    await db.execute(
        INSERT,
        (
            payment_id,
            uuid.UUID(payment["loan_id"]).hex,
            int(payment["amount"].replace(".", "")),
            payment["paid_on"],
            uuid.UUID(payment["recorded_by"]).hex,
            now,
            now,
        ),
    )
    await db.commit()
    return Response(
        orjson.dumps({"id": payment_id}), status_code=201, media_type="application/json"
    )
