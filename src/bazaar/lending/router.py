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
    """Customers in the caller's scope (officers: their own; a borrower: their record), searched
    by name or phone with `q`, a page at a time."""
    rows, total = await service.list_customers(
        session=session, principal=principal, q=q, limit=page.limit, offset=page.offset
    )
    return page.of([CustomerRead.model_validate(c) for c in rows], total)


@router.get(
    "/customers/{customer_id}", tags=["customers"], responses=error_responses(CustomerNotFound)
)
async def get_customer(customer: CustomerDep) -> CustomerRead:
    """One customer in the caller's scope; anyone else's is 404."""
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
    """Change a customer's fields; `version` must be the one read (409 `version_conflict` if it
    moved). Only admins change `officer_id`, and the customer's loans move with them."""
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
    """Soft-delete a customer with no loans (409 `customer_has_loans` otherwise); the deletion
    reaches field nodes."""
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
    """The installments these terms would give, computed exactly and saved nowhere."""
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
    """A loan application as a `draft`: officers for their customers, a borrower for themselves.
    The schedule is computed at approval and fixed at disbursement."""
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
    """Loans in the caller's scope, filtered by `status`, `customer_id`, `officer_id` and
    delinquency `bucket`, a page at a time."""
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
    """One customer's loans, within the caller's scope, a page at a time."""
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
    """Loans in one status, within the caller's scope, a page at a time."""
    items, total = await queries.list_loans(
        session=session, principal=principal, status=status, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.get("/loans/{loan_id}", tags=["loans"], responses=error_responses(LoanNotFound))
async def get_loan(
    loan_id: uuid.UUID, reads: ReadDep, principal: LendingUser, as_of: AsOf = None
) -> LoanRead:
    """One loan with its balances, delinquency as of `as_of` (default today) and
    `allowed_commands`: what this caller may do to it now."""
    return await queries.read_loan(session=reads, principal=principal, loan_id=loan_id, as_of=as_of)


async def _update_loan(
    principal: StaffOnly, body: LoanUpdate, loan: LoanDep, session: SessionDep
) -> LoanRead:
    """Change the terms of a `draft` or `submitted` loan (409 `loan_not_editable` after that);
    `version` must be the one read."""
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
    """Soft-delete a `draft` loan (409 otherwise)."""
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
    """`draft` to `submitted`: the application goes to the admins (new_application)."""
    return await _command(session, loan, principal, LoanCommand.SUBMIT)


@router.post("/loans/{loan_id}/withdraw", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def withdraw_loan(session: SessionDep, loan: LoanDep, principal: LendingUser) -> LoanRead:
    """`submitted` to `withdrawn`, by its officer, the borrower or an admin."""
    return await _command(session, loan, principal, LoanCommand.WITHDRAW)


@router.post(
    "/loans/{loan_id}/approve",
    tags=["loan commands"],
    responses=error_responses(LoanNotFound, IllegalTransition, MakerChecker),
)
async def approve_loan(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    """Admins: `submitted` to `approved`, never on a loan they created or submitted (403
    `maker_checker`). The schedule is computed from the expected disbursement date."""
    return await _command(session, loan, principal, LoanCommand.APPROVE)


@router.post("/loans/{loan_id}/reject", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def reject_loan(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    """Admins: `submitted` to `rejected`."""
    return await _command(session, loan, principal, LoanCommand.REJECT)


@router.post("/loans/{loan_id}/undo-approval", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def undo_loan_approval(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    """Admins: `approved` back to `submitted`, before disbursement."""
    return await _command(session, loan, principal, LoanCommand.UNDO_APPROVAL)


@router.post("/loans/{loan_id}/write-off", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def write_off_loan(principal: AdminOnly, session: SessionDep, loan: LoanDep) -> LoanRead:
    """Admins: a `disbursed` loan to `written_off`; later repayments are refused."""
    return await _command(session, loan, principal, LoanCommand.WRITE_OFF)


@router.post("/loans/{loan_id}/disburse", tags=["loan commands"], responses=_COMMAND_ERRORS)
async def disburse_loan(
    principal: AdminOnly, session: SessionDep, loan: LoanDep, body: DisburseRequest | None = None
) -> LoanRead:
    """Admins: `approved` to `disbursed` on `disbursed_on` (default today); the schedule is
    fixed from that date."""
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
    """The exact amount that closes the loan on `as_of` (default today): outstanding principal
    plus the unpaid interest of periods already begun."""
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
    """Record a repayment: allocated oldest installment first, interest before principal. Send
    an `Idempotency-Key` header so a retry never pays twice; above the payoff amount is 422
    `payment_exceeds_payoff`."""
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
    """Payments in the caller's scope, newest first, optionally of one `loan_id`, a page at a
    time."""
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
    """One loan's payments, newest first, a page at a time."""
    items, total = await repayments.list_payments(
        session=session, principal=principal, loan_id=loan.id, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.get("/payments/{payment_id}", tags=["payments"], responses=error_responses(PaymentNotFound))
async def get_payment(
    payment_id: uuid.UUID, session: SessionDep, principal: LendingUser
) -> PaymentRead:
    """One payment with its split into principal and interest, and whether it was reversed."""
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
    """Portfolio figures (everything for admins, their own for officers): loans by status,
    disbursed and outstanding principal, collections between the two dates, overdue loans and
    PAR30."""
    end = collected_to or service.today()
    start = collected_from or end.replace(day=1)
    return await queries.dashboard(session=session, principal=principal, start=start, end=end)
