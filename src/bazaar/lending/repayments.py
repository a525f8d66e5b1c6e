"""Repayments: record, reverse, re-allocate, and the payoff quote.

A change to a loan's payments replays all of them against the schedule (rules.allocate), in the
same transaction, under a lock on the loan row; only the rows whose figures moved are written.
The common case, a payment that sorts after every live one, is added to the installments as they
stand (rules.allocate_next), which gives the same figures without reading the loan's payments,
and is written with Core statements (appended_payments.py) unless it closes the loan.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.errors import AppError
from bazaar.events import record_event
from bazaar.lending import appended_payments, rules
from bazaar.lending.errors import (
    InvalidPayment,
    LoanNotActive,
    LoanNotFound,
    PaymentAlreadyReversed,
    PaymentExceedsPayoff,
    PaymentNotFound,
    PaymentOverpaysLater,
)
from bazaar.lending.events import PaymentReceived, PaymentReversed
from bazaar.lending.ledger import (
    PAY_INSTALLMENTS,
    REVERSED,
    SET_PAYMENT_SPLITS,
    AnyRow,
    balances,
    installment_rows,
    moved_installments,
    moved_splits,
    payment_rows,
    records_of,
    schedule_of,
    states_of,
)
from bazaar.lending.models import Customer, Loan, Payment, PaymentReversal
from bazaar.lending.rules import LoanStatus
from bazaar.lending.schemas import PaymentCreate, PaymentRead, PaymentUpdate, check_places
from bazaar.lending.scope import loans_visible, loans_visible_to
from bazaar.lending.service import (
    record_status_change,
    routing_ids,
    today,
)
from bazaar.money import ZERO, in_currency, places
from bazaar.stamps import new_id, utcnow


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
    Loan.currency,
    REVERSED,
    PaymentReversal.reason.label("reversal_reason"),
)


async def _save_allocation(
    session: AsyncSession,
    loan: Loan,
    principal: Principal,
    installments: Sequence[AnyRow],
    payments: Sequence[AnyRow],
    allocation: rules.Allocation,
) -> None:
    """Write the allocation through the ORM. The loan's new figures are set first, so that a new
    payment or reversal and the loan update go out in one flush (and one batch of change-log
    rows)."""
    for name, value in balances(allocation).items():
        setattr(loan, name, value)
    old = loan.status
    if allocation.closed_on is not None and old is LoanStatus.DISBURSED:
        loan.status, loan.closed_on = LoanStatus.CLOSED, allocation.closed_on
    elif allocation.closed_on is None and old is LoanStatus.CLOSED:
        loan.status, loan.closed_on = LoanStatus.DISBURSED, None
    # The flush comes last: on PostgreSQL its change-log append takes the lock that orders every
    # writer's appends until commit, and nothing more should run while it is held.
    with session.no_autoflush:
        moved = moved_installments(installments, allocation)
        if moved:
            # Core executemany: the ORM's bulk update by primary key cost more than the SQL.
            await session.execute(PAY_INSTALLMENTS, moved)
        shifted = moved_splits(payments, allocation)
        if shifted:
            await session.execute(SET_PAYMENT_SPLITS, shifted)
    await session.flush()
    if loan.status is not old:
        await record_status_change(session=session, loan=loan, old=old, by=principal.user_id)


async def _save(
    session: AsyncSession,
    *,
    found: AnyRow,
    principal: Principal,
    installments: Sequence[AnyRow],
    payments: Sequence[AnyRow],
    allocation: rules.Allocation,
    new: Sequence[dict[str, Any]],
) -> None:
    """Write the `new` payments and the allocation that took them. Core statements when they
    only add to the loan's figures; the ORM when other payments' splits move (`payments`: a
    replay) or when the loan closes (a status change)."""
    if not payments and allocation.closed_on is None:
        await appended_payments.write(
            session, loan=found, installments=installments, payments=new, allocation=allocation
        )
        return
    loan = await session.get_one(Loan, found.id)
    session.add_all(Payment(**values) for values in new)
    await _save_allocation(session, loan, principal, installments, payments, allocation)


async def record_payment(
    *,
    session: AsyncSession,
    principal: Principal,
    data: PaymentCreate,
    payment_id: uuid.UUID | None = None,
) -> PaymentRead:
    """`payment_id`: the id a field node gave the payment offline (sync replays it)."""
    loan = await _locked_row(session, principal, data.loan_id)
    _check_payable(loan, data)
    installments = await installment_rows(session, loan.id)
    candidate = rules.PaymentRecord(
        id=payment_id or new_id(), paid_on=data.paid_on, amount=data.amount
    )
    payments: Sequence[AnyRow] = ()
    latest = loan.latest_paid_on, loan.latest_id
    if loan.latest_id is None or (candidate.paid_on, candidate.id) > latest:
        allocation = rules.allocate_next(states_of(installments), candidate)
    else:
        payments = await payment_rows(session, loan.id)
        allocation = rules.allocate(schedule_of(installments), [*records_of(payments), candidate])
    if allocation.excess > 0 and payments:
        raise _overpays_later(loan, data, allocation.excess)
    if allocation.excess > 0:
        existing = records_of(await payment_rows(session, loan.id))
        quote = rules.payoff_quote(schedule_of(installments), existing, data.paid_on)
        raise _beyond_payoff(loan, data.paid_on, quote.total)
    mine = next(p for p in allocation.payments if p.payment_id == candidate.id)
    payment = _payment(principal, data, mine)
    await _save(
        session,
        found=loan,
        principal=principal,
        installments=installments,
        payments=payments,
        allocation=allocation,
        new=[payment],
    )
    return _received(session, loan, payment)


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
    loan = await _locked_row(session, principal, loan_id)
    installments = await installment_rows(session, loan.id)
    states = states_of(installments)
    latest = None if loan.latest_id is None else (loan.latest_paid_on, loan.latest_id)
    closed_on: date | None = None
    outcomes: list[dict[str, Any] | AppError] = []
    for payment_id, data in payments:
        if data.loan_id != loan.id:
            raise ValueError("record_payments takes the payments of one loan")
        candidate = rules.PaymentRecord(id=payment_id, paid_on=data.paid_on, amount=data.amount)
        if latest is not None and (candidate.paid_on, candidate.id) <= latest:
            break
        try:
            if closed_on is not None:
                raise LoanNotActive(details={"status": LoanStatus.CLOSED})
            _check_payable(loan, data)
            payoff = rules.owed_to_close(states, data.paid_on)
            if data.amount > payoff:
                raise _beyond_payoff(loan, data.paid_on, payoff)
        except AppError as exc:
            outcomes.append(exc)
            continue
        allocation = rules.allocate_next(states, candidate)
        outcomes.append(_payment(principal, data, allocation.payments[0]))
        latest, closed_on = (candidate.paid_on, candidate.id), allocation.closed_on
    new = [outcome for outcome in outcomes if not isinstance(outcome, AppError)]
    if new:
        await _save(
            session,
            found=loan,
            principal=principal,
            installments=installments,
            payments=(),
            allocation=rules.Allocation(installments=states, payments=[], closed_on=closed_on),
            new=new,
        )
    return [
        outcome if isinstance(outcome, AppError) else _received(session, loan, outcome)
        for outcome in outcomes
    ]


def _check_payable(loan: Loan | AnyRow, data: PaymentCreate) -> None:
    if loan.status is not LoanStatus.DISBURSED:
        raise LoanNotActive(details={"status": loan.status})
    assert loan.disbursed_on is not None
    if not loan.disbursed_on <= data.paid_on <= today():
        raise InvalidPayment(
            "paid_on must lie between the disbursement date and today",
            details={"disbursed_on": loan.disbursed_on, "today": today()},
        )
    try:
        check_places(data.amount, loan.currency)
    except ValueError as exc:
        raise InvalidPayment(
            f"amount: {exc}",
            details={"field": "amount", "currency": loan.currency, "places": places(loan.currency)},
        ) from None


def _overpays_later(loan: Loan | AnyRow, data: PaymentCreate, excess: Decimal) -> AppError:
    acceptable = max(data.amount - excess, ZERO)
    return PaymentOverpaysLater(
        details={
            "acceptable_amount": str(acceptable),
            "as_of": data.paid_on.isoformat(),
            "loan_id": str(loan.id),
        }
    )


def _beyond_payoff(loan: Loan | AnyRow, paid_on: date, payoff: Decimal) -> PaymentExceedsPayoff:
    # Money leaves as a string: the error encoder would turn a Decimal into a float.
    return PaymentExceedsPayoff(
        details={
            "payoff_amount": str(in_currency(payoff, loan.currency)),
            "as_of": paid_on.isoformat(),
            "loan_id": str(loan.id),
        }
    )


def _payment(
    principal: Principal, data: PaymentCreate, allocated: rules.PaymentAllocation
) -> dict[str, Any]:
    """A new payment's columns, but for its sync stamp and `updated_at`."""
    return {
        "id": allocated.payment_id,
        "version": 1,
        "created_at": utcnow(),
        **data.model_dump(),
        "recorded_by": principal.user_id,
        "principal_part": allocated.principal,
        "interest_part": allocated.interest,
    }


def _received(session: AsyncSession, loan: AnyRow, payment: dict[str, Any]) -> PaymentRead:
    received = PaymentReceived(
        **routing_ids(loan, loan.owner_id),
        payment_id=str(payment["id"]),
        amount=str(in_currency(payment["amount"], loan.currency)),
        paid_on=payment["paid_on"].isoformat(),
    )
    record_event(session, received)
    columns = {name: payment[name] for name in _PAYMENT_FIELDS}
    return PaymentRead(**columns, currency=loan.currency, reversed=False, reversal_reason=None)


@cache
def _lock_row(role: Role) -> Select[Any]:
    """Built once per role (building it cost more than running it): `:loan_id`, `:user_id`.
    The loan's columns, its borrower's user id (`owner_id`) and its live payment that sorts
    last (`latest_paid_on`, `latest_id`)."""
    return _locking(
        role,
        *appended_payments.LOAN_COLUMNS,
        Customer.user_id.label("owner_id"),
        _LATEST_PAID_ON.label("latest_paid_on"),
        _LATEST_PAYMENT_ID.label("latest_id"),
    )


@cache
def _lock_loan(role: Role) -> Select[Any]:
    """As `_lock_row`, for the Loan object and its borrower's user id."""
    return _locking(role, Loan, Customer.user_id)


def _locking(role: Role, *columns: Any) -> Select[Any]:
    user_id: BindParameter[uuid.UUID] = bindparam("user_id", type_=Uuid())
    return (
        select(*columns)
        .join(Customer, Customer.id == Loan.customer_id)
        .where(Loan.id == bindparam("loan_id", type_=Uuid()), loans_visible_to(role, user_id))
        .with_for_update(of=Loan)
    )


async def _locked_row(session: AsyncSession, principal: Principal, loan_id: uuid.UUID) -> AnyRow:
    """The loan's row within the caller's scope, locked for its balance change."""
    return await _first_locked(session, _lock_row(principal.role), principal, loan_id)


async def _locked_loan(
    session: AsyncSession, principal: Principal, loan_id: uuid.UUID
) -> tuple[Loan, uuid.UUID | None]:
    """The Loan within the caller's scope and its borrower's user id, locked likewise."""
    found = await _first_locked(session, _lock_loan(principal.role), principal, loan_id)
    return found[0], found[1]


async def _first_locked(
    session: AsyncSession, query: Select[Any], principal: Principal, loan_id: uuid.UUID
) -> AnyRow:
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
    await _save_allocation(session, loan, principal, installments, payments, allocation)
    record_event(session, PaymentReversed(**routing_ids(loan, owner), payment_id=str(payment_id)))
    return await get_payment(session=session, principal=principal, payment_id=payment_id)


async def payoff(*, session: AsyncSession, loan: Loan, as_of: date) -> rules.PayoffQuote:
    if loan.status not in (LoanStatus.DISBURSED, LoanStatus.CLOSED):
        raise LoanNotActive(details={"status": loan.status})
    installments = await installment_rows(session, loan.id)
    payments = await payment_rows(session, loan.id)
    return rules.payoff_quote(schedule_of(installments), records_of(payments), as_of)
