"""Repayments: record, reverse, re-allocate, and the payoff quote.

A change to a loan's payments replays all of them against the schedule (rules.allocate), in the
same transaction, under a lock on the loan row; only the rows whose figures moved are written.
The common case, a payment that sorts after every live one, is added to the installments as they
stand (rules.allocate_next), which gives the same figures without reading the loan's payments.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, cast

from sqlalchemy import BindParameter, Select, Table, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import ROW_KEY, new_id, update_by_key
from bazaar.errors import AppError
from bazaar.events import Event, record_event
from bazaar.lending import rules
from bazaar.lending.errors import (
    InvalidPayment,
    LoanNotActive,
    LoanNotFound,
    PaymentAlreadyReversed,
    PaymentExceedsPayoff,
    PaymentNotFound,
)
from bazaar.lending.ledger import (
    REVERSED,
    SET_PAYMENT_SPLITS,
    AnyRow,
    installment_rows,
    moved_splits,
    payment_rows,
    records_of,
    schedule_of,
    states_of,
)
from bazaar.lending.models import Customer, Installment, Loan, Payment, PaymentReversal
from bazaar.lending.rules import LoanStatus
from bazaar.lending.schemas import PaymentCreate, PaymentRead, PaymentUpdate
from bazaar.lending.scope import loans_visible, loans_visible_to
from bazaar.lending.service import (
    record_status_change,
    routing_ids,
    today,
)
from bazaar.money import ZERO


def _latest_live_payment(column: Any) -> Any:
    """`column` of the loan's live payment that sorts last, as allocation orders them."""
    return (
        select(column)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.loan_id == Loan.id, PaymentReversal.id.is_(None))
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(1)
        .correlate(Loan)
        .scalar_subquery()
    )


_LATEST_PAID_ON = _latest_live_payment(Payment.paid_on)
_LATEST_PAYMENT_ID = _latest_live_payment(Payment.id)
_PAYMENT_FIELDS = [name for name in PaymentRead.model_fields if hasattr(Payment, name)]
_PAYMENT_READ_COLUMNS = (
    *(getattr(Payment, name) for name in _PAYMENT_FIELDS),
    REVERSED,
    PaymentReversal.reason.label("reversal_reason"),
)


_PAY_INSTALLMENTS = update_by_key(cast(Table, Installment.__table__))


async def _save_allocation(
    session: AsyncSession,
    *,
    loan: Loan,
    principal: Principal,
    installments: Sequence[AnyRow],
    payments: Sequence[AnyRow],
    allocation: rules.Allocation,
) -> None:
    """Write the allocation. The loan's new figures are set first, so that the new payment or
    reversal and the loan update go out in one flush (and one batch of change-log rows)."""
    loan.principal_outstanding = allocation.principal_outstanding
    loan.interest_outstanding = allocation.interest_outstanding
    loan.principal_paid = sum((s.principal_paid for s in allocation.installments), ZERO)
    loan.interest_paid = sum((s.interest_paid for s in allocation.installments), ZERO)
    loan.oldest_unpaid_due = next(
        (s.due_date for s in allocation.installments if s.unpaid > 0), None
    )
    old = loan.status
    if allocation.closed_on is not None and old is LoanStatus.DISBURSED:
        loan.status, loan.closed_on = LoanStatus.CLOSED, allocation.closed_on
    elif allocation.closed_on is None and old is LoanStatus.CLOSED:
        loan.status, loan.closed_on = LoanStatus.DISBURSED, None
    moved = [
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
    # The flush comes last: on PostgreSQL its change-log append takes the lock that orders every
    # writer's appends until commit, and nothing more should run while it is held.
    with session.no_autoflush:
        if moved:
            # Core executemany: the ORM's bulk update by primary key cost more than the SQL.
            await session.execute(_PAY_INSTALLMENTS, moved)
        shifted = moved_splits(payments, allocation)
        if shifted:
            await session.execute(SET_PAYMENT_SPLITS, shifted)
    await session.flush()
    if loan.status is not old:
        await record_status_change(session=session, loan=loan, old=old, by=principal.user_id)


async def record_payment(
    *,
    session: AsyncSession,
    principal: Principal,
    data: PaymentCreate,
    payment_id: uuid.UUID | None = None,
) -> PaymentRead:
    """`payment_id`: the id a field node gave the payment offline (sync replays it)."""
    loan, owner, latest_paid_on, latest_id = await _locked_loan(
        session, principal, data.loan_id, with_latest=True
    )
    _check_payable(loan, data.paid_on)
    installments = await installment_rows(session, loan.id)
    candidate = rules.PaymentRecord(
        id=payment_id or new_id(), paid_on=data.paid_on, amount=data.amount
    )
    payments: Sequence[AnyRow] = ()
    if latest_id is None or (candidate.paid_on, candidate.id) > (latest_paid_on, latest_id):
        allocation = rules.allocate_next(states_of(installments), candidate)
    else:
        payments = await payment_rows(session, loan.id)
        allocation = rules.allocate(schedule_of(installments), [*records_of(payments), candidate])
    if allocation.excess > 0:
        existing = records_of(await payment_rows(session, loan.id))
        quote = rules.payoff_quote(schedule_of(installments), existing, data.paid_on)
        raise _beyond_payoff(loan, data.paid_on, quote.total)
    mine = next(p for p in allocation.payments if p.payment_id == candidate.id)
    payment = _new_payment(session, principal, data, mine)
    await _save_allocation(
        session,
        loan=loan,
        principal=principal,
        installments=installments,
        payments=payments,
        allocation=allocation,
    )
    return _received(session, loan, owner, payment)


async def record_payments(
    *,
    session: AsyncSession,
    principal: Principal,
    loan_id: uuid.UUID,
    payments: Sequence[tuple[uuid.UUID, PaymentCreate]],
) -> list[PaymentRead | AppError]:
    """Several payments of one loan, each with its id, taken in order as `record_payment`
    would take them one after another, under one lock, one read of the installments and one
    flush: a field node's collections reaching the hub. A payment `record_payment` would
    refuse is answered with that error and changes nothing. Only payments that sort after
    every live one are taken: the answer stops before the first that does not (it needs a
    replay), and the caller records the rest one by one."""
    loan, owner, latest_paid_on, latest_id = await _locked_loan(
        session, principal, loan_id, with_latest=True
    )
    installments = await installment_rows(session, loan.id)
    states = states_of(installments)
    latest = None if latest_id is None else (latest_paid_on, latest_id)
    closed_on: date | None = None
    outcomes: list[Payment | AppError] = []
    for payment_id, data in payments:
        if data.loan_id != loan.id:
            raise ValueError("record_payments takes the payments of one loan")
        candidate = rules.PaymentRecord(id=payment_id, paid_on=data.paid_on, amount=data.amount)
        if latest is not None and (candidate.paid_on, candidate.id) <= latest:
            break
        try:
            if closed_on is not None:
                raise LoanNotActive(details={"status": LoanStatus.CLOSED})
            _check_payable(loan, data.paid_on)
            payoff = rules.owed_to_close(states, data.paid_on)
            if data.amount > payoff:
                raise _beyond_payoff(loan, data.paid_on, payoff)
        except AppError as exc:
            outcomes.append(exc)
            continue
        allocation = rules.allocate_next(states, candidate)
        outcomes.append(_new_payment(session, principal, data, allocation.payments[0]))
        latest, closed_on = (candidate.paid_on, candidate.id), allocation.closed_on
    if any(isinstance(outcome, Payment) for outcome in outcomes):
        await _save_allocation(
            session,
            loan=loan,
            principal=principal,
            installments=installments,
            payments=(),
            allocation=rules.Allocation(installments=states, payments=[], closed_on=closed_on),
        )
    return [
        _received(session, loan, owner, outcome) if isinstance(outcome, Payment) else outcome
        for outcome in outcomes
    ]


def _check_payable(loan: Loan, paid_on: date) -> None:
    if loan.status is not LoanStatus.DISBURSED:
        raise LoanNotActive(details={"status": loan.status})
    assert loan.disbursed_on is not None
    if not loan.disbursed_on <= paid_on <= today():
        raise InvalidPayment(
            "paid_on must lie between the disbursement date and today",
            details={"disbursed_on": loan.disbursed_on, "today": today()},
        )


def _beyond_payoff(loan: Loan, paid_on: date, payoff: Decimal) -> PaymentExceedsPayoff:
    # Money leaves as a string: the error encoder would turn a Decimal into a float.
    return PaymentExceedsPayoff(
        details={
            "payoff_amount": str(payoff),
            "as_of": paid_on.isoformat(),
            "loan_id": str(loan.id),
        }
    )


def _new_payment(
    session: AsyncSession,
    principal: Principal,
    data: PaymentCreate,
    allocated: rules.PaymentAllocation,
) -> Payment:
    payment = Payment(
        id=allocated.payment_id,
        **data.model_dump(),
        recorded_by=principal.user_id,
        principal_part=allocated.principal,
        interest_part=allocated.interest,
    )
    session.add(payment)
    return payment


def _received(
    session: AsyncSession, loan: Loan, owner: uuid.UUID | None, payment: Payment
) -> PaymentRead:
    event = {
        **routing_ids(loan, owner),
        "payment_id": str(payment.id),
        "amount": str(payment.amount),
        "paid_on": payment.paid_on.isoformat(),
    }
    record_event(session, Event("payment_received", event))
    columns = {name: getattr(payment, name) for name in _PAYMENT_FIELDS}
    return PaymentRead(**columns, reversed=False, reversal_reason=None)


@cache
def _lock(role: Role, with_latest: bool) -> Select[Any]:
    """Built once per role (building it cost more than running it): `:loan_id`, `:user_id`."""
    user_id: BindParameter[uuid.UUID] = bindparam("user_id", type_=Uuid())
    latest = (_LATEST_PAID_ON, _LATEST_PAYMENT_ID) if with_latest else ()
    return (
        select(Loan, Customer.user_id, *latest)
        .join(Customer, Customer.id == Loan.customer_id)
        .where(Loan.id == bindparam("loan_id", type_=Uuid()), loans_visible_to(role, user_id))
        .with_for_update(of=Loan)
    )


async def _locked_loan(
    session: AsyncSession, principal: Principal, loan_id: uuid.UUID, *, with_latest: bool = False
) -> AnyRow:
    """The loan, locked for its balance change, and its borrower's user id (for events);
    `with_latest`: also the date and id of its live payment that sorts last."""
    query = _lock(principal.role, with_latest)
    params = {"loan_id": loan_id, "user_id": principal.user_id}
    found: AnyRow | None = (await session.execute(query, params)).one_or_none()
    if found is None:
        raise LoanNotFound()
    return found


async def get_payment(
    *, session: AsyncSession, principal: Principal, payment_id: uuid.UUID
) -> PaymentRead:
    query = _payments_query(principal).where(Payment.id == payment_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise PaymentNotFound()
    return PaymentRead.model_validate(row)


def _payments_query(principal: Principal) -> Any:
    return (
        select(*_PAYMENT_READ_COLUMNS)
        .join(Loan, Loan.id == Payment.loan_id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(loans_visible(principal), Payment.deleted_at.is_(None))
    )


async def list_payments(
    *,
    session: AsyncSession,
    principal: Principal,
    loan_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[PaymentRead], int]:
    query = _payments_query(principal)
    if loan_id is not None:
        query = query.where(Payment.loan_id == loan_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(limit).offset(offset)
    )
    return [PaymentRead.model_validate(r) for r in rows], total


async def _load_payment(
    session: AsyncSession, principal: Principal, payment_id: uuid.UUID
) -> Payment:
    query = (
        select(Payment)
        .join(Loan, Loan.id == Payment.loan_id)
        .where(Payment.id == payment_id, loans_visible(principal))
    )
    payment = (await session.execute(query)).scalar_one_or_none()
    if payment is None:
        raise PaymentNotFound()
    return payment


async def update_payment(
    *, session: AsyncSession, principal: Principal, payment_id: uuid.UUID, data: PaymentUpdate
) -> PaymentRead:
    payment = await _load_payment(session, principal, payment_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(payment, name, value)
    await session.flush()
    return await get_payment(session=session, principal=principal, payment_id=payment_id)


async def reverse_payment(
    *,
    session: AsyncSession,
    principal: Principal,
    payment_id: uuid.UUID,
    reason: str,
    reversal_id: uuid.UUID | None = None,
) -> PaymentRead:
    payment = await _load_payment(session, principal, payment_id)
    loan, owner = await _locked_loan(session, principal, payment.loan_id)
    if loan.status not in (LoanStatus.DISBURSED, LoanStatus.CLOSED):
        raise LoanNotActive(details={"status": loan.status})
    installments = await installment_rows(session, loan.id)
    payments = await payment_rows(session, loan.id)
    if any(row.id == payment_id and row.reversed for row in payments):
        raise PaymentAlreadyReversed(details={"payment_id": str(payment_id)})
    session.add(
        PaymentReversal(
            id=reversal_id or new_id(),
            payment_id=payment_id,
            reason=reason,
            reversed_by=principal.user_id,
        )
    )
    records = [
        rules.PaymentRecord(
            id=r.id, paid_on=r.paid_on, amount=r.amount, reversed=r.reversed or r.id == payment_id
        )
        for r in payments
    ]
    allocation = rules.allocate(schedule_of(installments), records)
    await _save_allocation(
        session,
        loan=loan,
        principal=principal,
        installments=installments,
        payments=payments,
        allocation=allocation,
    )
    event = {
        **routing_ids(loan, owner),
        "payment_id": str(payment_id),
    }
    record_event(session, Event("payment_reversed", event))
    return await get_payment(session=session, principal=principal, payment_id=payment_id)


async def payoff(*, session: AsyncSession, loan: Loan, as_of: date) -> rules.PayoffQuote:
    if loan.status not in (LoanStatus.DISBURSED, LoanStatus.CLOSED):
        raise LoanNotActive(details={"status": loan.status})
    installments = await installment_rows(session, loan.id)
    payments = await payment_rows(session, loan.id)
    return rules.payoff_quote(schedule_of(installments), records_of(payments), as_of)
