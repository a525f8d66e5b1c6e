"""Demo portfolio for `officer@demo.bazaar`: loans in every status, payments, some in arrears.

`borrower@demo.bazaar` is linked to the customer with an active loan. Built through the
services, so the data obeys the same rules as the API's.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import service as auth_service
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.lending import repayments, service
from bazaar.lending.models import Customer, PaymentMethod
from bazaar.lending.rules import Amortization, LoanCommand
from bazaar.lending.schemas import CustomerCreate, LoanCreate, PaymentCreate

# (owner, business, status to reach, days since disbursement,
#  payments as (days after disbursement, amount)); 12,000.00 at 12 % over 12 months each.
PORTFOLIO: tuple[tuple[str, str, str, int, tuple[tuple[int, str], ...]], ...] = (
    (
        "Lakshmi Rao",
        "Lakshmi Tailoring",
        "disbursed",
        95,
        ((31, "1120.00"), (62, "1110.00"), (92, "1100.00")),
    ),
    ("Ravi Khan", "Ravi Kirana Store", "disbursed", 70, ((31, "1120.00"),)),
    ("Meena Das", "Meena Dairy", "disbursed", 130, ()),
    ("Arjun Iyer", "Arjun Mobile Repairs", "closed", 60, ((31, "1120.00"), (45, "11110.00"))),
    ("Fatima Shaikh", "Fatima Spices", "written_off", 200, ((31, "500.00"),)),
    ("Joseph Dsouza", "Joseph Woodworks", "approved", 0, ()),
    ("Priya Nair", "Priya Handlooms", "submitted", 0, ()),
    ("Kiran Patil", "Kiran Bakery", "draft", 0, ()),
    ("Sunil Verma", "Sunil Auto Parts", "rejected", 0, ()),
    ("Anita Roy", "Anita Florist", "withdrawn", 0, ()),
)
BORROWERS_BUSINESS = "Ravi Kirana Store"
BEFORE_PAYMENTS = {
    "draft": (),
    "submitted": (LoanCommand.SUBMIT,),
    "approved": (LoanCommand.SUBMIT, LoanCommand.APPROVE),
    "rejected": (LoanCommand.SUBMIT, LoanCommand.REJECT),
    "withdrawn": (LoanCommand.SUBMIT, LoanCommand.WITHDRAW),
    "disbursed": (LoanCommand.SUBMIT, LoanCommand.APPROVE, LoanCommand.DISBURSE),
    "closed": (LoanCommand.SUBMIT, LoanCommand.APPROVE, LoanCommand.DISBURSE),
    "written_off": (LoanCommand.SUBMIT, LoanCommand.APPROVE, LoanCommand.DISBURSE),
}
MAKER_COMMANDS = frozenset({LoanCommand.SUBMIT, LoanCommand.WITHDRAW})


async def _principal(session: AsyncSession, email: str, role: Role) -> Principal | None:
    user = await auth_service.find_user_by_email(session=session, email=email)
    return None if user is None else Principal(user_id=user.id, role=role)


async def seed_demo(*, session: AsyncSession) -> list[str]:
    officer = await _principal(session, "officer@demo.bazaar", Role.OFFICER)
    admin = await _principal(session, "admin@demo.bazaar", Role.ADMIN)
    borrower = await _principal(session, "borrower@demo.bazaar", Role.CUSTOMER)
    if officer is None or admin is None:
        return ["lending: demo officer/admin missing, no portfolio seeded"]
    existing = select(func.count()).where(Customer.officer_id == officer.user_id)
    if (await session.execute(existing)).scalar_one():
        return ["lending: demo portfolio already present"]
    today = service.today()
    for number, (owner, business, status, age, payments) in enumerate(PORTFOLIO):
        linked = borrower is not None and business == BORROWERS_BUSINESS
        customer = await service.create_customer(
            session=session,
            principal=officer,
            data=CustomerCreate(
                full_name=owner,
                phone=f"+91 98000 {10000 + number}",
                business_name=business,
                national_id=f"ABCDE{1000 + number}F",
                user_id=borrower.user_id if linked and borrower is not None else None,
            ),
        )
        disbursed_on = today - timedelta(days=age)
        loan = await service.create_loan(
            session=session,
            principal=officer,
            data=LoanCreate(
                customer_id=customer.id,
                principal=Decimal("12000.00"),
                annual_rate=Decimal("12"),
                installments=12,
                amortization=Amortization.EQUAL_PRINCIPAL,
                expected_disbursement_date=disbursed_on,
                purpose=f"Working capital for {business}",
            ),
        )
        for command in BEFORE_PAYMENTS[status]:
            await service.transition(
                session=session,
                principal=officer if command in MAKER_COMMANDS else admin,
                loan=loan,
                command=command,
                on=disbursed_on,
            )
        for offset, amount in payments:
            await repayments.record_payment(
                session=session,
                principal=officer,
                data=PaymentCreate(
                    loan_id=loan.id,
                    amount=Decimal(amount),
                    paid_on=disbursed_on + timedelta(days=offset),
                    method=PaymentMethod.UPI,
                ),
            )
        if status == "written_off":
            await service.transition(
                session=session, principal=admin, loan=loan, command=LoanCommand.WRITE_OFF
            )
    return [
        f"lending: {len(PORTFOLIO)} demo loans for officer@demo.bazaar; "
        f"borrower@demo.bazaar owns {BORROWERS_BUSINESS}'s loan"
    ]
