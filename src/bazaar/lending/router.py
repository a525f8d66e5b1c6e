"""Lending over HTTP: customers, loans and their commands, payments and the dashboard."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from bazaar.auth.dependencies import AdminOnly, StaffOnly
from bazaar.auth.errors import FieldNotAllowed
from bazaar.db import ReadDep, SessionDep
from bazaar.errors import error_responses
from bazaar.idempotency import IdempotencyDep
from bazaar.lending import queries, repayments, rules, service
from bazaar.lending.dependencies import CustomerDep, LendingUser, LoanDep
from bazaar.lending.errors import (
    CustomerAccountTaken,
    CustomerHasLoans,
    CustomerNotFound,
    IllegalTransition,
    InvalidLoanTerms,
    InvalidPayment,
    LoanNotActive,
    LoanNotEditable,
    LoanNotFound,
    MakerChecker,
    PaymentAlreadyReversed,
    PaymentExceedsPayoff,
    PaymentNotFound,
    PaymentOverpaysLater,
    StaleVersion,
)
from bazaar.lending.rules import Bucket, LoanCommand, LoanStatus
from bazaar.lending.schemas import (
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    DashboardStats,
    DisburseRequest,
    InstallmentRead,
    LoanCreate,
    LoanRead,
    LoanTermsIn,
    LoanUpdate,
    PaymentCreate,
    PaymentRead,
    PaymentUpdate,
    PayoffQuoteRead,
    ScheduleRead,
)
from bazaar.money import ZERO
from bazaar.pagination import Page, Paging
from bazaar.routing import Route
from bazaar.scalars import IsoDate
from bazaar.text import Line, Lines

router = APIRouter(route_class=Route)

AsOf = Annotated[IsoDate | None, Query(description="Default: today (UTC)")]


@router.post(
    "/customers",
    status_code=201,
    tags=["customers"],
    responses=error_responses(CustomerAccountTaken, FieldNotAllowed),
)
async def create_customer(
    body: CustomerCreate, session: SessionDep, principal: StaffOnly
) -> CustomerRead:
    """Officers create customers of their own; naming another officer in `officer_id` is 422
    `field_not_allowed`, as minting an API key for another owner is. Admins name the officer."""
    customer = await service.create_customer(session=session, principal=principal, data=body)
    return CustomerRead.model_validate(customer)


@router.get("/customers", tags=["customers"])
async def list_customers(
    session: SessionDep,
    principal: LendingUser,
    page: Paging,
    q: Annotated[Line | None, Query(max_length=100, description="Name or phone")] = None,
) -> Page[CustomerRead]:
    rows, total = await service.list_customers(
        session=session, principal=principal, q=q, limit=page.limit, offset=page.offset
    )
    return page.of([CustomerRead.model_validate(c) for c in rows], total)


@router.get(
    "/customers/{customer_id}", tags=["customers"], responses=error_responses(CustomerNotFound)
)
async def get_customer(customer: CustomerDep) -> CustomerRead:
    return CustomerRead.model_validate(customer)


@router.put(
    "/customers/{customer_id}",
    tags=["customers"],
    responses=error_responses(
        CustomerNotFound, StaleVersion, CustomerAccountTaken, FieldNotAllowed
    ),
)
async def update_customer(
    principal: StaffOnly, body: CustomerUpdate, customer: CustomerDep, session: SessionDep
) -> CustomerRead:
    updated = await service.update_customer(
        session=session, principal=principal, customer=customer, data=body
    )
    return CustomerRead.model_validate(updated)


@router.delete(
    "/customers/{customer_id}",
    status_code=204,
    tags=["customers"],
    responses=error_responses(CustomerNotFound, CustomerHasLoans),
)
async def delete_customer(
    principal: StaffOnly, customer: CustomerDep, session: SessionDep
) -> Response:
    await service.delete_customer(session=session, customer=customer)
    return Response(status_code=204)


def _schedule_read(items: list[InstallmentRead], currency: str) -> ScheduleRead:
    return ScheduleRead(
        currency=currency,
        installments=items,
        total_principal=sum((i.principal for i in items), ZERO),
        total_interest=sum((i.interest for i in items), ZERO),
    )


@router.post("/loans/schedule-preview", tags=["loans"], responses=error_responses(InvalidLoanTerms))
async def schedule_preview(body: LoanTermsIn, principal: LendingUser) -> ScheduleRead:
    schedule = rules.generate_schedule(service.preview_terms(body))
    return _schedule_read(
        [InstallmentRead.model_validate(i, from_attributes=True) for i in schedule], body.currency
    )


@router.post(
    "/loans",
    status_code=201,
    tags=["loans"],
    responses=error_responses(CustomerNotFound, InvalidLoanTerms),
)
async def create_loan(body: LoanCreate, session: SessionDep, principal: LendingUser) -> LoanRead:
    loan = await service.create_loan(session=session, principal=principal, data=body)
    return await queries.read_loan(
        session=session, principal=principal, loan_id=loan.id, as_of=None
    )


@router.get("/loans", tags=["loans"])
async def list_loans(
    session: SessionDep,
    principal: LendingUser,
    page: Paging,
    status: LoanStatus | None = None,
    customer_id: uuid.UUID | None = None,
    officer_id: uuid.UUID | None = None,
    bucket: Bucket | None = None,
) -> Page[LoanRead]:
    items, total = await queries.list_loans(
        session=session,
        principal=principal,
        status=status,
        customer_id=customer_id,
        officer_id=officer_id,
        bucket=bucket,
        limit=page.limit,
        offset=page.offset,
    )
    return page.of(items, total)


@router.get(
    "/loans/customer/{customer_id}", tags=["loans"], responses=error_responses(CustomerNotFound)
)
async def list_customer_loans(
    customer: CustomerDep,
    session: SessionDep,
    principal: LendingUser,
    page: Paging,
) -> Page[LoanRead]:
    items, total = await queries.list_loans(
        session=session,
        principal=principal,
        customer_id=customer.id,
        limit=page.limit,
        offset=page.offset,
    )
    return page.of(items, total)


@router.get("/loans/status/{status}", tags=["loans"])
async def list_loans_by_status(
    status: LoanStatus,
    session: SessionDep,
    principal: LendingUser,
    page: Paging,
) -> Page[LoanRead]:
    items, total = await queries.list_loans(
        session=session, principal=principal, status=status, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.get("/loans/{loan_id}", tags=["loans"], responses=error_responses(LoanNotFound))
async def get_loan(
    loan_id: uuid.UUID, reads: ReadDep, principal: LendingUser, as_of: AsOf = None
) -> LoanRead:
    return await queries.read_loan(session=reads, principal=principal, loan_id=loan_id, as_of=as_of)


async def _update_loan(
    principal: StaffOnly, body: LoanUpdate, loan: LoanDep, session: SessionDep
) -> LoanRead:
    await service.update_loan(session=session, loan=loan, data=body)
    return await queries.read_loan(
        session=session, principal=principal, loan_id=loan.id, as_of=None
    )


_EDIT_ERRORS = error_responses(LoanNotFound, LoanNotEditable, StaleVersion, InvalidLoanTerms)
router.put("/loans/{loan_id}", tags=["loans"], responses=_EDIT_ERRORS, name="update_loan")(
    _update_loan
)
router.patch("/loans/{loan_id}", tags=["loans"], responses=_EDIT_ERRORS, name="patch_loan")(
    _update_loan
)


@router.delete(
    "/loans/{loan_id}",
    status_code=204,
    tags=["loans"],
    responses=error_responses(LoanNotFound, LoanNotEditable),
)
async def delete_loan(principal: StaffOnly, loan: LoanDep, session: SessionDep) -> Response:
    await service.delete_loan(session=session, loan=loan)
    return Response(status_code=204)


_COMMAND_ERRORS = error_responses(LoanNotFound, IllegalTransition)


async def _command(
    session: SessionDep, loan: LoanDep, principal: LendingUser, command: LoanCommand
) -> LoanRead:
    await service.transition(session=session, principal=principal, loan=loan, command=command)
    return await queries.read_loan(
        session=session, principal=principal, loan_id=loan.id, as_of=None
    )


@router.post("/loans/{loan_id}/submit", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def submit_loan(session: SessionDep, loan: LoanDep, principal: LendingUser) -> LoanRead:
    return await _command(session, loan, principal, LoanCommand.SUBMIT)


@router.post("/loans/{loan_id}/withdraw", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def withdraw_loan(session: SessionDep, loan: LoanDep, principal: LendingUser) -> LoanRead:
    return await _command(session, loan, principal, LoanCommand.WITHDRAW)


@router.post(
    "/loans/{loan_id}/approve",
    tags=["loan commands"],
    responses=error_responses(LoanNotFound, IllegalTransition, MakerChecker),
)
async def approve_loan(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    return await _command(session, loan, principal, LoanCommand.APPROVE)


@router.post("/loans/{loan_id}/reject", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def reject_loan(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    return await _command(session, loan, principal, LoanCommand.REJECT)


@router.post("/loans/{loan_id}/undo-approval", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def undo_loan_approval(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    return await _command(session, loan, principal, LoanCommand.UNDO_APPROVAL)


@router.post("/loans/{loan_id}/write-off", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def write_off_loan(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    return await _command(session, loan, principal, LoanCommand.WRITE_OFF)


@router.post("/loans/{loan_id}/disburse", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def disburse_loan(
    principal: AdminOnly, session: SessionDep, loan: LoanDep, body: DisburseRequest | None = None
) -> LoanRead:
    on = body.disbursed_on if body is not None else None
    await service.transition(
        session=session, principal=principal, loan=loan, command=LoanCommand.DISBURSE, on=on
    )
    return await queries.read_loan(
        session=session, principal=principal, loan_id=loan.id, as_of=None
    )


@router.get("/loans/{loan_id}/schedule", tags=["loans"], responses=error_responses(LoanNotFound))
async def loan_schedule(
    loan_id: uuid.UUID, reads: ReadDep, session: SessionDep, principal: LendingUser
) -> ScheduleRead:
    """The stored schedule from approval on; before that, a preview from the terms."""
    stored = await queries.stored_schedule(session=reads, principal=principal, loan_id=loan_id)
    if stored is not None:
        currency, rows = stored
        return _schedule_read([InstallmentRead.model_validate(r) for r in rows], currency)
    # Before approval (or not the caller's loan: 404 here): the session loads it, lazily.
    loan = await service.get_loan(session=session, principal=principal, loan_id=loan_id)
    preview = rules.generate_schedule(service.terms_of(loan))
    return _schedule_read(
        [InstallmentRead.model_validate(i, from_attributes=True) for i in preview], loan.currency
    )


@router.get(
    "/loans/{loan_id}/payoff-quote",
    tags=["loans"],
    responses=error_responses(LoanNotFound, LoanNotActive),
)
async def payoff_quote(loan: LoanDep, session: SessionDep, as_of: AsOf = None) -> PayoffQuoteRead:
    when = as_of or service.today()
    quote = await repayments.payoff(session=session, loan=loan, as_of=when)
    return PayoffQuoteRead(
        loan_id=loan.id,
        as_of=when,
        currency=loan.currency,
        principal=quote.principal,
        interest=quote.interest,
        total=quote.total,
    )


@router.post(
    "/payments",
    status_code=201,
    tags=["payments"],
    response_model=PaymentRead,
    responses=error_responses(
        LoanNotFound,
        LoanNotActive,
        InvalidPayment,
        PaymentExceedsPayoff,
        PaymentOverpaysLater,
    ),
)
async def record_payment(
    principal: StaffOnly, claim: IdempotencyDep, session: SessionDep, body: PaymentCreate
) -> Response:
    if claim.replay is not None:
        return claim.replay
    payment = await repayments.record_payment(session=session, principal=principal, data=body)
    return await claim.respond(session, status_code=201, body=payment)


@router.get("/payments", tags=["payments"])
async def list_payments(
    session: SessionDep,
    principal: LendingUser,
    page: Paging,
    loan_id: uuid.UUID | None = None,
) -> Page[PaymentRead]:
    items, total = await repayments.list_payments(
        session=session, principal=principal, loan_id=loan_id, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.get("/payments/loan/{loan_id}", tags=["payments"], responses=error_responses(LoanNotFound))
async def list_loan_payments(
    loan: LoanDep,
    session: SessionDep,
    principal: LendingUser,
    page: Paging,
) -> Page[PaymentRead]:
    items, total = await repayments.list_payments(
        session=session, principal=principal, loan_id=loan.id, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.get("/payments/{payment_id}", tags=["payments"], responses=error_responses(PaymentNotFound))
async def get_payment(
    payment_id: uuid.UUID, session: SessionDep, principal: LendingUser
) -> PaymentRead:
    return await repayments.get_payment(session=session, principal=principal, payment_id=payment_id)


@router.put("/payments/{payment_id}", tags=["payments"], responses=error_responses(PaymentNotFound))
async def update_payment(
    principal: StaffOnly, payment_id: uuid.UUID, body: PaymentUpdate, session: SessionDep
) -> PaymentRead:
    """Reference and notes only: money is corrected by a reversal and a new payment."""
    return await repayments.update_payment(
        session=session, principal=principal, payment_id=payment_id, data=body
    )


@router.delete(
    "/payments/{payment_id}",
    tags=["payments"],
    responses=error_responses(PaymentNotFound, PaymentAlreadyReversed, LoanNotActive),
)
async def reverse_payment(
    payment_id: uuid.UUID,
    session: SessionDep,
    principal: AdminOnly,
    reason: Annotated[Lines, Query(min_length=3, max_length=500)],
) -> PaymentRead:
    """A reversal: the payment stays on record, stops counting, and the loan re-allocates."""
    return await repayments.reverse_payment(
        session=session, principal=principal, payment_id=payment_id, reason=reason
    )


@router.get("/dashboard/stats", tags=["dashboard"])
async def dashboard_stats(
    session: SessionDep,
    principal: StaffOnly,
    collected_from: Annotated[
        IsoDate | None, Query(description="Default: first of this month")
    ] = None,
    collected_to: Annotated[IsoDate | None, Query(description="Default: today")] = None,
) -> DashboardStats:
    end = collected_to or service.today()
    start = collected_from or end.replace(day=1)
    return await queries.dashboard(session=session, principal=principal, start=start, end=end)
