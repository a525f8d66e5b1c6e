"""Request and response bodies. Money is a Decimal with 2 places, serialized as a string."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bazaar.lending.models import PaymentMethod
from bazaar.lending.rules import (
    Amortization,
    Bucket,
    Frequency,
    InterestMethod,
    LoanCommand,
    LoanStatus,
)
from bazaar.scalars import DecimalString, IsoDate
from bazaar.text import Line, Lines

Amount = Annotated[
    DecimalString, Field(gt=0, max_digits=14, decimal_places=2, examples=["8884.88"])
]
Percent = Annotated[
    DecimalString, Field(ge=0, le=100, max_digits=7, decimal_places=4, examples=["12"])
]
Pan = Annotated[str, Field(pattern=r"^[A-Z]{5}[0-9]{4}[A-Z]$", examples=["ABCDE1234F"])]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{4,30}$", examples=["+91 98765 43210"])]
Email = Annotated[Line, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Limit = Annotated[int, Field(ge=1, le=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CustomerFields(Strict):
    full_name: Line = Field(min_length=1, max_length=200)
    phone: Phone
    email: Email | None = None
    national_id: Pan | None = Field(default=None, description="PAN, e.g. ABCDE1234F")
    business_name: Line | None = Field(default=None, max_length=200)
    address: Lines | None = Field(default=None, max_length=500)
    user_id: uuid.UUID | None = Field(default=None, description="The borrower's user account")


class CustomerCreate(CustomerFields):
    officer_id: uuid.UUID | None = Field(
        default=None, description="Required from admins; officers are assigned themselves"
    )


class CustomerUpdate(Strict):
    version: int = Field(ge=1)
    full_name: Line | None = Field(default=None, min_length=1, max_length=200)
    phone: Phone | None = None
    email: Email | None = None
    national_id: Pan | None = None
    business_name: Line | None = Field(default=None, max_length=200)
    address: Lines | None = Field(default=None, max_length=500)
    user_id: uuid.UUID | None = None
    officer_id: uuid.UUID | None = None


class CustomerRead(Read):
    id: uuid.UUID
    full_name: str
    phone: str
    email: str | None
    national_id: str | None
    business_name: str | None
    address: str | None
    officer_id: uuid.UUID
    user_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class LoanTermsIn(Strict):
    principal: Amount
    currency: Currency = "INR"
    annual_rate: Percent
    installments: int = Field(ge=1, le=360)
    frequency: Frequency = Frequency.MONTHLY
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    grace_on_principal: int = Field(default=0, ge=0, le=359)
    expected_disbursement_date: IsoDate
    first_repayment_date: IsoDate | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LoanTermsIn:
        if self.grace_on_principal >= self.installments:
            raise ValueError("grace_on_principal must be less than installments")
        if (
            self.first_repayment_date is not None
            and self.first_repayment_date <= self.expected_disbursement_date
        ):
            raise ValueError("first_repayment_date must be after expected_disbursement_date")
        return self


class LoanFields(LoanTermsIn):
    """What a loan's creator sets: its terms and purpose."""

    purpose: Lines | None = Field(default=None, max_length=500)


class LoanCreate(LoanFields):
    customer_id: uuid.UUID


class LoanUpdate(Strict):
    version: int = Field(ge=1)
    principal: Amount | None = None
    currency: Currency | None = None
    annual_rate: Percent | None = None
    installments: int | None = Field(default=None, ge=1, le=360)
    frequency: Frequency | None = None
    interest_method: InterestMethod | None = None
    amortization: Amortization | None = None
    grace_on_principal: int | None = Field(default=None, ge=0, le=359)
    expected_disbursement_date: IsoDate | None = None
    first_repayment_date: IsoDate | None = None
    purpose: Lines | None = Field(default=None, max_length=500)


class DelinquencyRead(Read):
    as_of: date
    days_past_due: int
    overdue_amount: Decimal
    next_due_date: date | None
    principal_outstanding: Decimal
    interest_outstanding: Decimal
    bucket: Bucket


class LoanRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    officer_id: uuid.UUID
    principal: Decimal
    currency: str
    annual_rate: Decimal
    installments: int
    frequency: Frequency
    interest_method: InterestMethod
    amortization: Amortization
    grace_on_principal: int
    expected_disbursement_date: date
    first_repayment_date: date | None
    purpose: str | None
    status: LoanStatus
    allowed_commands: list[LoanCommand]
    version: int
    created_by: uuid.UUID
    submitted_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    disbursed_on: date | None
    closed_on: date | None
    written_off_on: date | None
    principal_paid: Decimal
    interest_paid: Decimal
    delinquency: DelinquencyRead | None = Field(
        description="For disbursed loans: arrears as of `as_of` (default today)"
    )
    created_at: datetime
    updated_at: datetime


class InstallmentRead(Read):
    number: int
    starts_on: date
    due_date: date
    principal: Decimal
    interest: Decimal
    principal_paid: Decimal = Decimal("0.00")
    interest_paid: Decimal = Decimal("0.00")
    interest_waived: Decimal = Decimal("0.00")


class ScheduleRead(BaseModel):
    installments: list[InstallmentRead]
    total_principal: Decimal
    total_interest: Decimal


class PayoffQuoteRead(BaseModel):
    loan_id: uuid.UUID
    as_of: date
    principal: Decimal
    interest: Decimal
    total: Decimal


class DisburseRequest(Strict):
    disbursed_on: IsoDate | None = Field(default=None, description="Default today; not in future")


class PaymentCreate(Strict):
    loan_id: uuid.UUID
    amount: Amount
    paid_on: IsoDate
    method: PaymentMethod
    reference: Line | None = Field(default=None, max_length=100)
    notes: Lines | None = Field(default=None, max_length=500)


class PaymentUpdate(Strict):
    reference: Line | None = Field(default=None, max_length=100)
    notes: Lines | None = Field(default=None, max_length=500)


class PaymentRead(Read):
    id: uuid.UUID
    loan_id: uuid.UUID
    amount: Decimal
    paid_on: date
    method: PaymentMethod
    reference: str | None
    notes: str | None
    recorded_by: uuid.UUID
    principal_part: Decimal
    interest_part: Decimal
    reversed: bool
    reversal_reason: str | None
    version: int
    created_at: datetime


class DashboardStats(BaseModel):
    loans_by_status: dict[LoanStatus, int]
    customers: int
    disbursed_amount: Decimal
    outstanding_principal: Decimal
    collected: Decimal
    collected_from: date
    collected_to: date
    overdue_loans: int
    par30: Decimal = Field(
        description="Outstanding principal of loans over 30 days past due / total outstanding"
    )
