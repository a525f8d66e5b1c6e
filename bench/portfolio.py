"""The benches' seed data, written through auth's and lending's services as the API would."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.auth.service import create_user
from bazaar.lending import service
from bazaar.lending.models import Loan
from bazaar.lending.rules import LoanCommand
from bazaar.lending.schemas import CustomerCreate, LoanCreate

PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway database


async def staff(*, session: AsyncSession) -> tuple[Principal, Principal]:
    """`admin@bench.bazaar` and `officer@bench.bazaar`, both with PASSWORD."""
    admin = await create_user(
        session=session,
        email="admin@bench.bazaar",
        password=PASSWORD,
        full_name="Bench Admin",
        role=Role.ADMIN,
    )
    officer = await create_user(
        session=session,
        email="officer@bench.bazaar",
        password=PASSWORD,
        full_name="Bench Officer",
        role=Role.OFFICER,
    )
    return (
        Principal(user_id=admin.id, role=Role.ADMIN),
        Principal(user_id=officer.id, role=Role.OFFICER),
    )


async def disbursed_loan(
    *,
    session: AsyncSession,
    officer: Principal,
    admin: Principal,
    customer: CustomerCreate,
    principal: Decimal,
    on: date,
) -> Loan:
    """A new customer's loan at 12 % over 24 months, submitted, approved and disbursed `on`."""
    borrower = await service.create_customer(session=session, principal=officer, data=customer)
    loan = await service.create_loan(
        session=session,
        principal=officer,
        data=LoanCreate(
            customer_id=borrower.id,
            principal=principal,
            annual_rate=Decimal("12"),
            installments=24,
            expected_disbursement_date=on,
        ),
    )
    for command, actor in (
        (LoanCommand.SUBMIT, officer),
        (LoanCommand.APPROVE, admin),
        (LoanCommand.DISBURSE, admin),
    ):
        await service.transition(
            session=session, principal=actor, loan=loan, command=command, on=on
        )
    return loan


async def disbursed_loans(
    *, session: AsyncSession, officer: Principal, admin: Principal, count: int, tag: int = 0
) -> list[str]:
    """The ids of `count` loans of 10,000,000.00 to new customers of `officer`, disbursed 45
    days ago (large enough that a bench's payments never repay one); `tag` keeps phones apart
    between officers."""
    on = service.today() - timedelta(days=45)
    ids = []
    for number in range(count):
        customer = CustomerCreate(
            full_name=f"Borrower {tag}-{number}", phone=f"+91 9{tag:04} {number:05}"
        )
        loan = await disbursed_loan(
            session=session,
            officer=officer,
            admin=admin,
            customer=customer,
            principal=Decimal("10000000.00"),
            on=on,
        )
        ids.append(str(loan.id))
    return ids
