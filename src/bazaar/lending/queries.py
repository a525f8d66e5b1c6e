"""Read paths: loans with their delinquency, loan lists and the dashboard.

These select columns (SQLAlchemy Core) instead of loading ORM objects (DESIGN.md §9), and take
delinquency from the balances cached on the loan plus one aggregate over its installments; only
an `as_of` in the past replays the payments.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Date,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import Reader
from bazaar.lending import rules
from bazaar.lending.errors import LoanNotFound
from bazaar.lending.ledger import (
    INSTALLMENT_COLUMNS,
    AnyRow,
    installment_rows,
    payment_rows,
    records_of,
    schedule_of,
)
from bazaar.lending.models import Customer, Installment, Loan, Payment, PaymentReversal
from bazaar.lending.rules import Bucket, LoanStatus
from bazaar.lending.schemas import DashboardStats, DelinquencyRead, LoanRead
from bazaar.lending.scope import customers_visible, loans_visible, loans_visible_to
from bazaar.lending.service import today
from bazaar.money import ZERO
from bazaar.sqltypes import Money

_LOAN_COLUMNS = (
    *(getattr(Loan, name) for name in LoanRead.model_fields if name in Loan.__table__.c),
    Loan.principal_outstanding,
    Loan.interest_outstanding,
    Loan.oldest_unpaid_due,
)

_unpaid = type_coerce(
    Installment.principal
    + Installment.interest
    - Installment.principal_paid
    - Installment.interest_paid
    - Installment.interest_waived,
    Money(),
)


def _days_past_due(oldest_unpaid_due: date | None, as_of: date) -> int:
    if oldest_unpaid_due is None or oldest_unpaid_due >= as_of:
        return 0
    return (as_of - oldest_unpaid_due).days


def _loans_with_arrears() -> Select[Any]:
    """Loan columns plus overdue amount and next due date as of `:as_of`, from the stored
    allocation, in one statement: on SQLite every statement is a round trip to the driver."""
    as_of = bindparam("as_of", type_=Date())
    mine = Installment.loan_id == Loan.id
    overdue = type_coerce(
        func.coalesce(func.sum(case((Installment.due_date < as_of, _unpaid), else_=ZERO)), ZERO),
        Money(),
    )
    next_due = type_coerce(
        func.min(case((and_(Installment.due_date >= as_of, _unpaid > ZERO), Installment.due_date))),
        Date(),
    )
    return select(
        *_LOAN_COLUMNS,
        select(overdue).where(mine).scalar_subquery().label("overdue_amount"),
        select(next_due).where(mine).scalar_subquery().label("next_due_date"),
    )


# Built once (see _loan_by_id); a list adds its filters to a copy.
_LOANS_WITH_ARREARS = _loans_with_arrears()


@cache
def _loan_by_id(role: Role) -> Select[Any]:
    """Built once per role (building it costs more than running it): `:loan_id`, `:user_id`."""
    user_id: BindParameter[uuid.UUID] = bindparam("user_id", type_=Uuid())
    return _LOANS_WITH_ARREARS.where(
        Loan.id == bindparam("loan_id", type_=Uuid()), loans_visible_to(role, user_id)
    )


@cache
def _stored_schedule(role: Role) -> Select[*tuple[Any, ...]]:
    """Built once per role: a visible loan's currency with its installments, `:loan_id`,
    `:user_id`, in one statement instead of loading the loan and then its installments."""
    user_id: BindParameter[uuid.UUID] = bindparam("user_id", type_=Uuid())
    return (
        select(Loan.currency, *INSTALLMENT_COLUMNS)
        .join(Loan, Loan.id == Installment.loan_id)
        .where(
            Installment.loan_id == bindparam("loan_id", type_=Uuid()),
            loans_visible_to(role, user_id),
        )
        .order_by(Installment.number)
    )


async def stored_schedule(
    *, session: Reader, principal: Principal, loan_id: uuid.UUID
) -> tuple[str, Sequence[AnyRow]] | None:
    """The currency and installments of a loan the caller sees, None when there are none (a
    loan before approval, or one the caller does not see)."""
    params = {"loan_id": loan_id, "user_id": principal.user_id}
    rows = (await session.execute(_stored_schedule(principal.role), params)).all()
    return (rows[0].currency, rows) if rows else None


def _delinquency(row: AnyRow, as_of: date) -> DelinquencyRead | None:
    if row.disbursed_on is None:
        return None
    days = _days_past_due(row.oldest_unpaid_due, as_of)
    return DelinquencyRead(
        as_of=as_of,
        days_past_due=days,
        overdue_amount=row.overdue_amount,
        next_due_date=row.next_due_date,
        principal_outstanding=row.principal_outstanding,
        interest_outstanding=row.interest_outstanding,
        bucket=rules.bucket_for(days),
    )


def _loan_read(row: AnyRow, delinquency: DelinquencyRead | None, principal: Principal) -> LoanRead:
    maker = principal.user_id in (row.created_by, row.submitted_by)
    return LoanRead(
        **{name: getattr(row, name) for name in LoanRead.model_fields if name in row._fields},
        allowed_commands=rules.commands_for(
            row.status, principal.role, may_write=principal.may_write(), maker=maker
        ),
        delinquency=delinquency,
    )


async def _past_delinquency(session: Reader, loan_id: uuid.UUID, as_of: date) -> DelinquencyRead:
    schedule = schedule_of(await installment_rows(session, loan_id))
    found = rules.delinquency(schedule, records_of(await payment_rows(session, loan_id)), as_of)
    return DelinquencyRead.model_validate(found, from_attributes=True)


async def read_loan(
    *, session: Reader, principal: Principal, loan_id: uuid.UUID, as_of: date | None
) -> LoanRead:
    current = today()
    when = as_of if as_of is not None and as_of > current else current
    params = {"loan_id": loan_id, "user_id": principal.user_id, "as_of": when}
    row = (await session.execute(_loan_by_id(principal.role), params)).one_or_none()
    if row is None:
        raise LoanNotFound()
    if as_of is not None and as_of < current and row.disbursed_on is not None:
        # Payments made after `as_of` are already in the stored allocation: replay without them.
        return _loan_read(row, await _past_delinquency(session, loan_id, as_of), principal)
    return _loan_read(row, _delinquency(row, when), principal)


def _bucket_filter(bucket: Bucket, on: date) -> Any:
    due = Loan.oldest_unpaid_due
    active = Loan.status == LoanStatus.DISBURSED
    if bucket is Bucket.CURRENT:
        return active & or_(due.is_(None), due >= on)
    bounds = {
        Bucket.DPD_1_30: (1, 30),
        Bucket.DPD_31_60: (31, 60),
        Bucket.DPD_61_90: (61, 90),
        Bucket.DPD_90_PLUS: (91, None),
    }
    low, high = bounds[bucket]
    condition = active & (due <= on - timedelta(days=low))
    if high is not None:
        condition &= due >= on - timedelta(days=high)
    return condition


async def list_loans(
    *,
    session: AsyncSession,
    principal: Principal,
    status: LoanStatus | None = None,
    customer_id: uuid.UUID | None = None,
    officer_id: uuid.UUID | None = None,
    bucket: Bucket | None = None,
    limit: int,
    offset: int,
) -> tuple[list[LoanRead], int]:
    on = today()
    where = [loans_visible(principal)]
    if status is not None:
        where.append(Loan.status == status)
    if customer_id is not None:
        where.append(Loan.customer_id == customer_id)
    if officer_id is not None:
        where.append(Loan.officer_id == officer_id)
    if bucket is not None:
        where.append(_bucket_filter(bucket, on))
    total = (await session.execute(select(func.count(Loan.id)).where(*where))).scalar_one()
    query = _LOANS_WITH_ARREARS.where(*where).order_by(Loan.id.desc())
    rows = (await session.execute(query.limit(limit).offset(offset), {"as_of": on})).all()
    return [_loan_read(r, _delinquency(r, on), principal) for r in rows], total


async def dashboard(
    *, session: AsyncSession, principal: Principal, start: date, end: date
) -> DashboardStats:
    on = today()
    visible = loans_visible(principal)
    by_status = {
        status: count
        for status, count in await session.execute(
            select(Loan.status, func.count()).where(visible).group_by(Loan.status)
        )
    }
    customers = (
        await session.execute(select(func.count(Customer.id)).where(customers_visible(principal)))
    ).scalar_one()
    active = visible & (Loan.status == LoanStatus.DISBURSED)
    late = active & (Loan.oldest_unpaid_due < on - timedelta(days=30))
    totals = (
        await session.execute(
            select(
                type_coerce(
                    func.sum(case((Loan.disbursed_on.is_not(None), Loan.principal), else_=ZERO)),
                    Money(),
                ),
                type_coerce(
                    func.sum(
                        case(
                            (Loan.status == LoanStatus.DISBURSED, Loan.principal_outstanding),
                            else_=ZERO,
                        )
                    ),
                    Money(),
                ),
                type_coerce(
                    func.sum(case((late, Loan.principal_outstanding), else_=ZERO)), Money()
                ),
                func.count(case((active & (Loan.oldest_unpaid_due < on), Loan.id))),
            ).where(visible)
        )
    ).one()
    collected = (
        await session.execute(
            select(type_coerce(func.sum(Payment.amount), Money()))
            .join(Loan, Loan.id == Payment.loan_id)
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(visible, PaymentReversal.id.is_(None), Payment.paid_on.between(start, end))
        )
    ).scalar_one()
    outstanding = totals[1] or ZERO
    par30 = (totals[2] or ZERO) / outstanding if outstanding else Decimal(0)
    return DashboardStats(
        loans_by_status={status: by_status.get(status, 0) for status in LoanStatus},
        customers=customers,
        disbursed_amount=totals[0] or ZERO,
        outstanding_principal=outstanding,
        collected=collected or ZERO,
        collected_from=start,
        collected_to=end,
        overdue_loans=totals[3],
        par30=par30.quantize(Decimal("0.0001")),
    )
