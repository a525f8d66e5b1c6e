"""A loan's money as the rules see it: its installments and payments, read as columns (no
ORM objects) and turned into the pure values of `rules`. Repayments, queries and sync read
through here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.lending import rules
from bazaar.lending.models import Installment, Payment, PaymentReversal

AnyRow = Row[*tuple[Any, ...]]

_INSTALLMENT_COLUMNS = (
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


async def installment_rows(session: AsyncSession, loan_id: uuid.UUID) -> Sequence[AnyRow]:
    query = select(*_INSTALLMENT_COLUMNS).where(Installment.loan_id == loan_id)
    return (await session.execute(query.order_by(Installment.number))).all()


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


async def payment_rows(session: AsyncSession, loan_id: uuid.UUID) -> Sequence[AnyRow]:
    query = (
        select(
            Payment.id,
            Payment.paid_on,
            Payment.amount,
            Payment.principal_part,
            Payment.interest_part,
            REVERSED,
        )
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.loan_id == loan_id)
    )
    return (await session.execute(query)).all()


def records_of(rows: Sequence[AnyRow]) -> list[rules.PaymentRecord]:
    return [
        rules.PaymentRecord(id=r.id, paid_on=r.paid_on, amount=r.amount, reversed=r.reversed)
        for r in rows
    ]
