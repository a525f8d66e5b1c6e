"""Use cases for customers and the loan lifecycle. Services flush; the request commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import service as auth_service
from bazaar.auth.errors import FieldNotAllowed, UserNotFound
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.errors import InvalidInputError
from bazaar.events import record_event
from bazaar.lending import rules
from bazaar.lending.errors import (
    CustomerAccountTaken,
    CustomerHasLoans,
    CustomerNotFound,
    IllegalTransition,
    InvalidLoanTerms,
    LoanNotEditable,
    LoanNotFound,
    MakerChecker,
    StaleVersion,
)
from bazaar.lending.events import ApplicationSubmitted, LoanStatusChanged
from bazaar.lending.ledger import AnyRow
from bazaar.lending.models import Customer, Installment, Loan
from bazaar.lending.rules import LoanCommand, LoanStatus
from bazaar.lending.schemas import (
    CustomerCreate,
    CustomerUpdate,
    LoanCreate,
    LoanTermsIn,
    LoanUpdate,
)
from bazaar.lending.scope import customers_visible, loans_visible
from bazaar.money import ZERO, in_currency
from bazaar.pagination import fetch_page
from bazaar.stamps import utcnow


def today() -> date:
    return utcnow().date()


def _check_version(row: Customer | Loan, version: int) -> None:
    if row.version != version:
        raise StaleVersion(details={"current_version": row.version, "sent_version": version})


async def get_customer(
    *, session: AsyncSession, principal: Principal, customer_id: uuid.UUID
) -> Customer:
    query = select(Customer).where(Customer.id == customer_id, customers_visible(principal))
    customer = (await session.execute(query)).scalar_one_or_none()
    if customer is None:
        raise CustomerNotFound()
    return customer


async def list_customers(
    *, session: AsyncSession, principal: Principal, q: str | None, limit: int, offset: int
) -> tuple[list[Customer], int]:
    where = [customers_visible(principal)]
    if q:
        pattern = f"%{q.lower()}%"
        where.append(
            or_(func.lower(Customer.full_name).like(pattern), Customer.phone.like(f"%{q}%"))
        )
    query = select(Customer).where(*where).order_by(Customer.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def _check_people(
    session: AsyncSession,
    *,
    officer_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    customer_id: uuid.UUID | None = None,
) -> None:
    """The officer must be staff, the linked account a customer's, used by no other customer."""
    for field, user, roles in (
        ("officer_id", officer_id, (Role.OFFICER, Role.ADMIN)),
        ("user_id", user_id, (Role.CUSTOMER,)),
    ):
        if user is None:
            continue
        try:
            account = await auth_service.get_user(session=session, user_id=user)
        except UserNotFound:
            account = None
        if account is None or account.role not in roles:
            raise InvalidInputError(
                f"{field} must be a user with role {' or '.join(roles)}", details={"field": field}
            )
    if user_id is not None:
        taken = select(Customer.id).where(Customer.user_id == user_id, Customer.id != customer_id)
        if (await session.execute(taken)).first() is not None:
            raise CustomerAccountTaken(details={"field": "user_id"})


def _check_officer_assignment(
    principal: Principal, officer_id: uuid.UUID | None, *, current: uuid.UUID | None = None
) -> None:
    """Only admins assign customers to officers: an officer naming anyone but themselves (or,
    on an edit, the current officer) is refused as the API-key route refuses another owner."""
    if principal.role is Role.ADMIN or officer_id is None:
        return
    if officer_id not in (principal.user_id, current):
        raise FieldNotAllowed(
            "Only admins assign a customer to another officer", details={"fields": ["officer_id"]}
        )


async def create_customer(
    *, session: AsyncSession, principal: Principal, data: CustomerCreate
) -> Customer:
    _check_officer_assignment(principal, data.officer_id)
    officer_id = data.officer_id if principal.role is Role.ADMIN else principal.user_id
    if officer_id is None:
        raise InvalidInputError("officer_id is required", details={"field": "officer_id"})
    await _check_people(session, officer_id=officer_id, user_id=data.user_id)
    customer = Customer(**data.model_dump(exclude={"officer_id"}), officer_id=officer_id)
    session.add(customer)
    await session.flush()
    return customer


async def update_customer(
    *, session: AsyncSession, principal: Principal, customer: Customer, data: CustomerUpdate
) -> Customer:
    _check_version(customer, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    _check_officer_assignment(principal, changes.get("officer_id"), current=customer.officer_id)
    if principal.role is not Role.ADMIN or changes.get("officer_id") is None:
        changes.pop("officer_id", None)
    await _check_people(
        session,
        officer_id=changes.get("officer_id"),
        user_id=changes.get("user_id"),
        customer_id=customer.id,
    )
    for name, value in changes.items():
        setattr(customer, name, value)
    if "officer_id" in changes:
        # A borrower moves to another officer with their whole portfolio.
        loans = await session.execute(select(Loan).where(Loan.customer_id == customer.id))
        for loan in loans.scalars():
            loan.officer_id = changes["officer_id"]
    await session.flush()
    return customer


async def delete_customer(*, session: AsyncSession, customer: Customer) -> None:
    loans = select(func.count()).where(Loan.customer_id == customer.id, Loan.deleted_at.is_(None))
    if (await session.execute(loans)).scalar_one():
        raise CustomerHasLoans(details={"customer_id": str(customer.id)})
    customer.deleted_at = utcnow()
    # The borrower's account is free again: it may be linked to a new customer record.
    customer.user_id = None
    await session.flush()


async def get_loan(
    *, session: AsyncSession, principal: Principal, loan_id: uuid.UUID, lock: bool = False
) -> Loan:
    query = select(Loan).where(Loan.id == loan_id, loans_visible(principal))
    if lock:
        query = query.with_for_update()
    loan = (await session.execute(query)).scalar_one_or_none()
    if loan is None:
        raise LoanNotFound()
    return loan


def _terms(
    source: Loan | LoanTermsIn, disbursement_date: date, first_repayment_date: date | None
) -> rules.LoanTerms:
    """The rules' terms from a stored loan or a request: the one place they are built."""
    return rules.LoanTerms(
        principal=source.principal,
        annual_rate=source.annual_rate,
        installments=source.installments,
        frequency=source.frequency,
        interest_method=source.interest_method,
        amortization=source.amortization,
        grace_on_principal=source.grace_on_principal,
        disbursement_date=disbursement_date,
        first_repayment_date=first_repayment_date,
        currency=source.currency,
    )


def terms_of(loan: Loan, *, disbursed_on: date | None = None) -> rules.LoanTerms:
    """The loan's terms; dates run from the disbursement date once it is known."""
    start = disbursed_on or loan.disbursed_on or loan.expected_disbursement_date
    first = loan.first_repayment_date
    # A first repayment date the actual disbursement overtook no longer applies.
    return _terms(loan, start, first if first is not None and first > start else None)


def preview_terms(data: LoanTermsIn) -> rules.LoanTerms:
    """Terms a request proposes, or InvalidLoanTerms (422) saying what is wrong with them."""
    try:
        return _terms(data, data.expected_disbursement_date, data.first_repayment_date)
    except rules.TermsError as exc:
        raise InvalidLoanTerms(str(exc)) from exc


async def create_loan(*, session: AsyncSession, principal: Principal, data: LoanCreate) -> Loan:
    preview_terms(data)
    customer = await get_customer(
        session=session, principal=principal, customer_id=data.customer_id
    )
    loan = Loan(
        **data.model_dump(),
        officer_id=customer.officer_id,
        created_by=principal.user_id,
        status=LoanStatus.DRAFT,
    )
    session.add(loan)
    await session.flush()
    return loan


async def update_loan(*, session: AsyncSession, loan: Loan, data: LoanUpdate) -> Loan:
    if loan.status not in rules.EDITABLE:
        raise LoanNotEditable(
            details={"status": loan.status, "editable_in": sorted(rules.EDITABLE)}
        )
    _check_version(loan, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    try:
        merged = LoanTermsIn.model_validate(
            {name: changes.get(name, getattr(loan, name)) for name in LoanTermsIn.model_fields}
        )
    except ValidationError as exc:
        # The change is valid alone but not with the terms it joins (a JPY currency for a
        # principal with cents, a grace as long as the loan).
        raise InvalidLoanTerms(
            "; ".join(error["msg"] for error in exc.errors()),
            details={
                "fields": [
                    {"loc": [str(part) for part in error["loc"]], "message": error["msg"]}
                    for error in exc.errors()
                ]
            },
        ) from exc
    preview_terms(merged)
    for name, value in changes.items():
        setattr(loan, name, value)
    await session.flush()
    return loan


async def delete_loan(*, session: AsyncSession, loan: Loan) -> None:
    if loan.status is not LoanStatus.DRAFT:
        raise LoanNotEditable("Only draft loans can be deleted", details={"status": loan.status})
    loan.deleted_at = utcnow()
    await session.flush()


def routing_ids(loan: Loan | AnyRow, customer_user_id: uuid.UUID | None) -> dict[str, Any]:
    """The ids every lending event carries, which name its audience."""
    return {
        "loan_id": str(loan.id),
        "customer_id": str(loan.customer_id),
        "officer_id": str(loan.officer_id),
        "customer_user_id": str(customer_user_id) if customer_user_id else None,
    }


async def customer_user_id(session: AsyncSession, loan: Loan) -> uuid.UUID | None:
    # Through the identity map: the customer is often loaded already (a sync push that
    # created it, a service that read it), and then no query runs.
    customer = await session.get(Customer, loan.customer_id)
    assert customer is not None  # a loan's customer is never deleted from under it
    return customer.user_id


async def record_status_change(
    *, session: AsyncSession, loan: Loan, old: LoanStatus, by: uuid.UUID | None
) -> None:
    ids = routing_ids(loan, await customer_user_id(session, loan))
    record_event(
        session,
        LoanStatusChanged(
            **ids,
            old_status=old.value,
            new_status=loan.status.value,
            by=str(by) if by else None,
        ),
    )
    if loan.status is LoanStatus.SUBMITTED and old is LoanStatus.DRAFT:
        principal = str(in_currency(loan.principal, loan.currency))
        record_event(session, ApplicationSubmitted(**ids, principal=principal))


async def _store_schedule(
    session: AsyncSession, loan: Loan, terms: rules.LoanTerms
) -> list[rules.ScheduledInstallment]:
    schedule = rules.generate_schedule(terms)
    await session.execute(delete(Installment).where(Installment.loan_id == loan.id))
    await session.execute(
        insert(Installment),
        [
            {
                "loan_id": loan.id,
                "number": item.number,
                "starts_on": item.starts_on,
                "due_date": item.due_date,
                "principal": item.principal,
                "interest": item.interest,
            }
            for item in schedule
        ],
    )
    return schedule


async def transition(
    *,
    session: AsyncSession,
    principal: Principal,
    loan: Loan,
    command: LoanCommand,
    on: date | None = None,
) -> Loan:
    """Apply a lifecycle command; anything the state machine does not allow is a 409."""
    target = rules.next_status(loan.status, command)
    if target is None:
        raise IllegalTransition(
            details={
                "status": loan.status,
                "command": command,
                "allowed": rules.allowed_commands(loan.status),
            }
        )
    effective = on or today()
    if command is LoanCommand.SUBMIT:
        loan.submitted_by = principal.user_id
    elif command is LoanCommand.APPROVE:
        if principal.user_id in (loan.created_by, loan.submitted_by):
            raise MakerChecker()
        loan.approved_by = principal.user_id
        await _store_schedule(session, loan, terms_of(loan))
    elif command is LoanCommand.UNDO_APPROVAL:
        loan.approved_by = None
        await session.execute(delete(Installment).where(Installment.loan_id == loan.id))
    elif command is LoanCommand.DISBURSE:
        if effective > today():
            raise InvalidInputError("A loan cannot be disbursed in the future")
        loan.disbursed_on = effective
        schedule = await _store_schedule(session, loan, terms_of(loan, disbursed_on=effective))
        loan.principal_outstanding = loan.principal
        loan.interest_outstanding = sum((i.interest for i in schedule), ZERO)
        loan.oldest_unpaid_due = schedule[0].due_date
    elif command is LoanCommand.WRITE_OFF:
        loan.written_off_on = effective
    old = loan.status
    loan.status = target
    await session.flush()
    await record_status_change(session=session, loan=loan, old=old, by=principal.user_id)
    return loan
