"""The app bench/lending.py measures: Bazaar itself plus baseline routes that do the same loan
read and payment writes with the raw driver (aiosqlite or asyncpg), no ORM.

- `/bench/raw/...` authenticate exactly as Bazaar's routes do (`CurrentUser`), so the ratio to
  them is the cost of lending's data path;
- `/bench/raw/payments` inserts the payment row alone (no allocation, balances untouched);
- `/bench/raw/repayments` writes what recording a repayment writes: the payment with its
  allocation (lending's own rules), the installments it pays, the loan's balances and version,
  and the two change-log entries, in one transaction under the loan's lock;
- `/bench/bare/...` skip authentication, to show what it costs.

Run as `uvicorn bench.lending_raw:app` with the usual BAZAAR_* environment.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aiosqlite
import asyncpg
import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy.engine import make_url

from bazaar.auth.dependencies import CurrentUser, StaffOnly
from bazaar.config import get_settings
from bazaar.lending import rules
from bazaar.main import create_app
from bazaar.money import CENT, MAX_PLACES, ZERO
from bazaar.stamps import new_id

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
LOCK_LOAN = """
SELECT l.version, l.status,
       (SELECT p.paid_on FROM payments p LEFT JOIN payment_reversals r ON r.payment_id = p.id
         WHERE p.loan_id = l.id AND r.id IS NULL ORDER BY p.paid_on DESC, p.id DESC LIMIT 1),
       (SELECT p.id FROM payments p LEFT JOIN payment_reversals r ON r.payment_id = p.id
         WHERE p.loan_id = l.id AND r.id IS NULL ORDER BY p.paid_on DESC, p.id DESC LIMIT 1)
FROM loans l WHERE l.id = {loan_id} AND l.officer_id = {user_id} AND l.deleted_at IS NULL
"""
INSTALLMENTS = """
SELECT id, number, starts_on, due_date, principal, interest, principal_paid, interest_paid,
       interest_waived
FROM loan_installments WHERE loan_id = {loan_id} ORDER BY number
"""
ALLOCATED_INSERT = """
INSERT INTO payments (id, loan_id, amount, paid_on, method, recorded_by, principal_part,
                      interest_part, created_at, updated_at, version, updated_hlc, origin_node)
VALUES ({p1}, {p2}, {p3}, {p4}, 'cash', {p5}, {p6}, {p7}, {p8}, {p8b}, 1, {p9}, 'hub')
"""
PAY_INSTALLMENT = """
UPDATE loan_installments SET principal_paid = {a}, interest_paid = {b}, interest_waived = {c}
WHERE id = {d}
"""
LOAN_BALANCES = """
UPDATE loans SET principal_paid = {a}, interest_paid = {b}, principal_outstanding = {c},
       interest_outstanding = {d}, oldest_unpaid_due = {e}, version = version + 1,
       updated_at = {f}, updated_hlc = {g}
WHERE id = {h} AND version = {i}
"""
CHANGES = """
INSERT INTO change_log (entity_type, entity_id, op, version, hlc, origin_node, owner_id, fields,
                        data, created_at)
VALUES ('payment', {a}, 'insert', 1, {b}, 'hub', {c}, {d}, {e}, {f}),
       ('loan', {g}, 'update', {h}, {b}, 'hub', {c}, {i}, {j}, {f})
"""


def _stored(value: Decimal) -> int:
    """What a Money column holds: thousandths."""
    return int(value.scaleb(MAX_PLACES))


def _money(stored: int) -> Decimal:
    return (Decimal(stored).scaleb(-MAX_PLACES)).quantize(CENT)


def _states(rows: Sequence[Any], as_date: Any) -> list[rules.InstallmentState]:
    return [
        rules.InstallmentState(
            number=r[1],
            starts_on=as_date(r[2]),
            due_date=as_date(r[3]),
            principal=_money(r[4]),
            interest=_money(r[5]),
            principal_paid=_money(r[6]),
            interest_paid=_money(r[7]),
            interest_waived=_money(r[8]),
        )
        for r in rows
    ]


class RawDriver:
    """One aiosqlite connection (SQLite has one writer anyway) or an asyncpg pool."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self._ready = asyncio.Lock()
        self._sqlite: aiosqlite.Connection | None = None
        # One connection serves every SQLite route: a transaction must not interleave with another.
        self._sqlite_turn = asyncio.Lock()
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
        # Numbered marks on both (SQLite's ?NNN, PostgreSQL's $N), so a name may repeat.
        mark = "?" if self.sqlite else "$"
        return template.format(**{name: f"{mark}{n + 1}" for n, name in enumerate(names)})

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
        amount = _stored(Decimal(payment["amount"]))
        sql = self._sql(INSERT, ["p1", "p2", "p3", "p4", "p5", "p6", "p7"])
        if self._sqlite is not None:
            args = (
                payment_id.hex,
                loan_id.hex,
                amount,
                payment["paid_on"],
                recorded_by.hex,
                now.isoformat(),
                now.isoformat(),
            )
            async with self._sqlite_turn:
                await self._sqlite.execute(sql, args)
                await self._sqlite.commit()
        else:
            assert self._pool is not None
            paid_on = datetime.fromisoformat(payment["paid_on"]).date()
            await self._pool.execute(
                sql, payment_id, loan_id, amount, paid_on, recorded_by, now, now
            )
        return str(payment_id)

    async def record_repayment(self, payment: dict[str, str], user_id: uuid.UUID) -> str:
        """The rows recording a repayment writes, with the raw driver; lending's rules allocate."""
        await self._open()
        if self._sqlite is not None:
            async with self._sqlite_turn:
                await self._sqlite.execute("BEGIN IMMEDIATE")
                try:
                    payment_id = await self._repay(payment, user_id)
                except BaseException:
                    await self._sqlite.rollback()
                    raise
                await self._sqlite.commit()
                return payment_id
        assert self._pool is not None
        async with self._pool.acquire() as connection, connection.transaction():
            return await self._repay(payment, user_id, connection)

    async def _repay(self, payment: dict[str, str], user_id: uuid.UUID, pg: Any = None) -> str:
        sqlite = pg is None
        now = datetime.now(UTC)

        def arg(value: Any) -> Any:
            # aiosqlite takes what SQLAlchemy stores on SQLite: hex ids, ISO dates and times.
            if not sqlite:
                return value
            if isinstance(value, uuid.UUID):
                return value.hex
            if isinstance(value, datetime):
                return value.replace(tzinfo=None).isoformat(sep=" ")
            if isinstance(value, date):
                return value.isoformat()
            return value

        async def rows(template: str, names: list[str], *values: Any) -> list[Any]:
            sql = self._sql(template, names)
            if pg is not None:
                return list(await pg.fetch(sql, *values))
            assert self._sqlite is not None
            async with self._sqlite.execute(sql, [arg(v) for v in values]) as cursor:
                return list(await cursor.fetchall())

        async def run(template: str, names: list[str], many: list[tuple[Any, ...]]) -> None:
            sql = self._sql(template, names)
            if pg is not None:
                await pg.executemany(sql, many)
                return
            assert self._sqlite is not None
            await self._sqlite.executemany(sql, [[arg(v) for v in values] for values in many])

        as_date = date.fromisoformat if sqlite else (lambda value: value)
        loan_id, paid_on = uuid.UUID(payment["loan_id"]), date.fromisoformat(payment["paid_on"])
        lock = LOCK_LOAN + ("" if sqlite else " FOR UPDATE")
        [(version, status, latest_paid_on, latest_id)] = await rows(
            lock, ["loan_id", "user_id"], loan_id, user_id
        )
        installments = await rows(INSTALLMENTS, ["loan_id"], loan_id)
        assert status == "disbursed"
        candidate = rules.PaymentRecord(
            id=new_id(), paid_on=paid_on, amount=Decimal(payment["amount"])
        )
        assert latest_id is None or paid_on >= as_date(latest_paid_on)  # the newest, as benched
        allocation = rules.allocate_next(_states(installments, as_date), candidate)
        mine = allocation.payments[0]
        hlc = f"{int(now.timestamp() * 1000):013d}-0000-hub"
        await run(
            ALLOCATED_INSERT,
            ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p8b", "p9"],
            [
                (
                    candidate.id,
                    loan_id,
                    _stored(candidate.amount),
                    paid_on,
                    user_id,
                    _stored(mine.principal),
                    _stored(mine.interest),
                    now,
                    now,
                    hlc,
                )
            ],
        )
        moved = [
            (
                _stored(s.principal_paid),
                _stored(s.interest_paid),
                _stored(s.interest_waived),
                row[0],
            )
            for row, s in zip(installments, allocation.installments, strict=True)
            if (row[6], row[7], row[8])
            != (_stored(s.principal_paid), _stored(s.interest_paid), _stored(s.interest_waived))
        ]
        await run(PAY_INSTALLMENT, ["a", "b", "c", "d"], moved)
        balances = {
            "principal_paid": sum((s.principal_paid for s in allocation.installments), ZERO),
            "interest_paid": sum((s.interest_paid for s in allocation.installments), ZERO),
            "principal_outstanding": allocation.principal_outstanding,
            "interest_outstanding": allocation.interest_outstanding,
        }
        oldest_unpaid = next((s.due_date for s in allocation.installments if s.unpaid > 0), None)
        await run(
            LOAN_BALANCES,
            ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            [(*map(_stored, balances.values()), oldest_unpaid, now, hlc, loan_id, version)],
        )
        payment_data = {
            "loan_id": str(loan_id),
            "amount": str(candidate.amount),
            "paid_on": paid_on.isoformat(),
            "principal_part": str(mine.principal),
            "interest_part": str(mine.interest),
        }
        loan_data = {name: str(value) for name, value in balances.items()}
        fields = orjson.dumps(dict.fromkeys(payment_data, hlc)).decode()
        await run(
            CHANGES,
            ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
            [
                (
                    candidate.id,
                    hlc,
                    user_id,
                    fields,
                    orjson.dumps(payment_data).decode(),
                    now,
                    loan_id,
                    version + 1,
                    orjson.dumps(dict.fromkeys(loan_data, hlc)).decode(),
                    orjson.dumps(loan_data).decode(),
                )
            ],
        )
        return str(candidate.id)


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


@router.post("/raw/payments")
async def raw_payment(request: Request, principal: StaffOnly) -> Response:
    payment = orjson.loads(await request.body())
    return _json({"id": await driver.insert_payment(payment, principal.user_id)}, 201)


@router.post("/raw/repayments")
async def raw_repayment(request: Request, principal: StaffOnly) -> Response:
    payment = orjson.loads(await request.body())
    return _json({"id": await driver.record_repayment(payment, principal.user_id)}, 201)


app = create_app()
app.include_router(router)
