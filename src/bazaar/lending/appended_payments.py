"""Payments dated after every live payment of a loan that stays open, written with Core
statements: the common repayment, and lending's busiest write.

Through the ORM this write spent longer in the unit of work and the change-capture flush hook
than in its SQL, all of it inside the write lock (SQLite) or the change log's ordering lock
(PostgreSQL). Here the same rows are written directly: the payments, the loan's balances and
version, the installments they pay; then the change log gets what the flush hook would have
given it (`capture.log_written`). Every other change to a loan's money (a backdated payment's
replay, a reversal, a payment that closes the loan) goes through the ORM. A Loan object the
session already holds is brought up to date, so it stays the one copy of the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from bazaar.db import ROW_KEY
from bazaar.lending import ledger, rules
from bazaar.lending.ledger import AnyRow
from bazaar.lending.models import Loan, Payment
from bazaar.sync import capture

_LOANS = cast(Table, Loan.__table__)
LOAN_COLUMNS = tuple(_LOANS.c)
"""What `write` needs of the loan, read under its lock: every column, for the change log."""

_INSERT_PAYMENTS = insert(cast(Table, Payment.__table__))
_SET_LOAN = update(_LOANS).where(
    _LOANS.c.id == bindparam(ROW_KEY), _LOANS.c.version == bindparam("read_version")
)


async def write(
    session: AsyncSession,
    *,
    loan: AnyRow,
    installments: Sequence[AnyRow],
    payments: Sequence[Mapping[str, Any]],
    allocation: rules.Allocation,
) -> None:
    """Write `payments` (every column but the sync stamp and `updated_at`) and the
    `allocation` that takes them onto `loan` (a row of LOAN_COLUMNS read under its lock)."""
    stamp = capture.stamp(session.sync_session)
    rows = [{**p, "updated_at": p["created_at"], "deleted_at": None, **stamp} for p in payments]
    await session.execute(_INSERT_PAYMENTS, rows)
    moved = ledger.moved_installments(installments, allocation)
    if moved:
        await session.execute(ledger.PAY_INSTALLMENTS, moved)
    changes = {
        **ledger.balances(allocation),
        "version": loan.version + 1,
        "updated_at": rows[-1]["created_at"],
        **stamp,
    }
    updated = await session.execute(
        _SET_LOAN, {ROW_KEY: loan.id, "read_version": loan.version, **changes}
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        # Not while the lock is held; a caller that read the loan without it is wrong.
        raise StaleDataError(f"loan {loan.id} changed after it was read")
    _refresh_held(session, loan.id, changes)
    before = {column.key: loan._mapping[column.key] for column in LOAN_COLUMNS}
    written = [capture.Written(Payment, "insert", row) for row in rows]
    written.append(capture.Written(Loan, "update", {**before, **changes}, previous=before))
    # Last, as the flush would be: on PostgreSQL the change log's lock is held from here.
    await session.run_sync(capture.log_written, written)


def _refresh_held(session: AsyncSession, loan_id: Any, changes: Mapping[str, Any]) -> None:
    """Give a Loan object of this session (a sync push that edited the loan first) the values
    just written, as loaded ones: its next flush neither misses nor undoes them."""
    sync = session.sync_session
    held = sync.identity_map.get(sync.identity_key(Loan, loan_id))
    if held is not None:
        for name, value in changes.items():
            set_committed_value(held, name, value)
