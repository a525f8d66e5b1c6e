"""A loan's money as the rules see it: its installments and payments, read as columns (no
ORM objects) and turned into the pure values of `rules`. Repayments, queries and sync read
through here."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.db import ROW_KEY, Reader, update_by_key
from bazaar.lending import rules
from bazaar.lending.models import Installment, Payment, PaymentReversal
from bazaar.money import ZERO

AnyRow = Row[*tuple[Any, ...]]

INSTALLMENT_COLUMNS = (
    Installment.id,
    Installment.number,
    Installment.starts_on,
    Installment.due_date,
    Installment.principal,
    Installment.interest,
    Installment.principal_paid,
    Installment.interest_paid,
    Installment.interest_waived,
)
REVERSED = PaymentReversal.id.is_not(None).label("reversed")


# Built once: a loan's schedule is read on every schedule page and payment.
_INSTALLMENTS = (
    select(*INSTALLMENT_COLUMNS)
    .where(Installment.loan_id == bindparam("loan_id", type_=Uuid()))
    .order_by(Installment.number)
)


async def installment_rows(session: Reader, loan_id: uuid.UUID) -> Sequence[AnyRow]:
    return (await session.execute(_INSTALLMENTS, {"loan_id": loan_id})).all()


def _scheduled(row: AnyRow) -> dict[str, Any]:
    return {
        "number": row.number,
        "starts_on": row.starts_on,
        "due_date": row.due_date,
        "principal": row.principal,
        "interest": row.interest,
    }


def schedule_of(rows: Sequence[AnyRow]) -> list[rules.ScheduledInstallment]:
    return [rules.ScheduledInstallment(**_scheduled(r)) for r in rows]


def states_of(rows: Sequence[AnyRow]) -> list[rules.InstallmentState]:
    return [
        rules.InstallmentState(
            **_scheduled(r),
            principal_paid=r.principal_paid,
            interest_paid=r.interest_paid,
            interest_waived=r.interest_waived,
        )
        for r in rows
    ]


_PAYMENTS = select(
    Payment.loan_id,
    Payment.id,
    Payment.paid_on,
    Payment.amount,
    Payment.principal_part,
    Payment.interest_part,
    REVERSED,
).outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
SET_PAYMENT_SPLITS = update_by_key(cast(Table, Payment.__table__))
PAY_INSTALLMENTS = update_by_key(cast(Table, Installment.__table__))


async def payment_rows(session: Reader, loan_id: uuid.UUID) -> Sequence[AnyRow]:
    return (await session.execute(_PAYMENTS.where(Payment.loan_id == loan_id))).all()


async def payment_rows_of(
    session: AsyncSession, loan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AnyRow]]:
    """`payment_rows` of several loans in one query, by loan."""
    by_loan: dict[uuid.UUID, list[AnyRow]] = defaultdict(list)
    if not loan_ids:
        return by_loan
    for row in await session.execute(_PAYMENTS.where(Payment.loan_id.in_(loan_ids))):
        by_loan[row.loan_id].append(row)
    return by_loan


def records_of(rows: Sequence[AnyRow]) -> list[rules.PaymentRecord]:
    return [
        rules.PaymentRecord(id=r.id, paid_on=r.paid_on, amount=r.amount, reversed=r.reversed)
        for r in rows
    ]


def moved_splits(payments: Sequence[AnyRow], allocation: rules.Allocation) -> list[dict[str, Any]]:
    """The payments whose principal and interest parts the allocation changes, as parameter
    sets for SET_PAYMENT_SPLITS."""
    parts = {p.payment_id: (p.principal, p.interest) for p in allocation.payments}
    return [
        {ROW_KEY: row.id, "principal_part": principal, "interest_part": interest}
        for row in payments
        # A reversed payment is out of the allocation: it no longer pays anything.
        for principal, interest in [parts.get(row.id, (ZERO, ZERO))]
        if (row.principal_part, row.interest_part) != (principal, interest)
    ]


def moved_installments(
    installments: Sequence[AnyRow], allocation: rules.Allocation
) -> list[dict[str, Any]]:
    """The installments (rows of `installment_rows`) whose paid figures the allocation changes,
    as parameter sets for PAY_INSTALLMENTS."""
    return [
        {
            ROW_KEY: row.id,
            "principal_paid": s.principal_paid,
            "interest_paid": s.interest_paid,
            "interest_waived": s.interest_waived,
        }
        for row, s in zip(installments, allocation.installments, strict=True)
        if (row.principal_paid, row.interest_paid, row.interest_waived)
        != (s.principal_paid, s.interest_paid, s.interest_waived)
    ]


def balances(allocation: rules.Allocation) -> dict[str, Any]:
    """The figures a loan caches (its columns) after `allocation`."""
    states = allocation.installments
    return {
        "principal_outstanding": allocation.principal_outstanding,
        "interest_outstanding": allocation.interest_outstanding,
        "principal_paid": sum((s.principal_paid for s in states), ZERO),
        "interest_paid": sum((s.interest_paid for s in states), ZERO),
        "oldest_unpaid_due": next((s.due_date for s in states if s.unpaid > 0), None),
    }
