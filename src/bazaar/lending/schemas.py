"""Request and response bodies.

Money is a Decimal serialized as a string with exactly its currency's places (JPY "1200",
INR "1200.00", KWD "1200.000"); an amount sent with more places than its currency has is 422.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from bazaar.examples import CUSTOMER_ID, LOAN_ID, example
from bazaar.lending.models import PaymentMethod
from bazaar.lending.rules import (
    Amortization,
    Bucket,
    Frequency,
    InterestMethod,
    LoanCommand,
    LoanStatus,
)
from bazaar.money import MAX_PLACES, fits, in_currency, places
from bazaar.scalars import DecimalString, IsoDate
from bazaar.text import Line, Lines

# 12 digits before the point in every currency; the places are the currency's (check_places).
Amount = Annotated[
    DecimalString,
    Field(gt=0, max_digits=12 + MAX_PLACES, decimal_places=MAX_PLACES, examples=["8884.88"]),
]
Percent = Annotated[
    DecimalString, Field(ge=0, le=100, max_digits=7, decimal_places=4, examples=["12"])
]
Pan = Annotated[str, Field(pattern=r"^[A-Z]{5}[0-9]{4}[A-Z]$", examples=["ABCDE1234F"])]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{4,30}$", examples=["+91 98765 43210"])]
Email = Annotated[Line, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def check_places(amount: Decimal, currency: str) -> None:
    if not fits(amount, currency):
        raise ValueError(f"{currency} amounts have at most {places(currency)} decimal places")


def _with_places(model: BaseModel, currency: str, *names: str) -> None:
    for name in names:
        setattr(model, name, in_currency(getattr(model, name), currency))


class CustomerFields(Strict):
    full_name: Line = Field(min_length=1, max_length=200)
    phone: Phone
    email: Email | None = None
    national_id: Pan | None = Field(default=None, description="PAN, e.g. ABCDE1234F")
    business_name: Line | None = Field(default=None, max_length=200)
    address: Lines | None = Field(default=None, max_length=500)
    user_id: uuid.UUID | None = Field(default=None, description="The borrower's user account")


class CustomerCreate(CustomerFields):
    model_config = example(
        {
            "full_name": "Ravi Kirana Store",
            "phone": "+91 98765 43210",
            "national_id": "ABCDE1234F",
            "business_name": "Ravi Kirana",
            "address": "12 MG Road, Pune",
        }
    )

    officer_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The officer the customer is assigned to: required from admins. Officers are "
            "assigned themselves; another officer's id is 422 `field_not_allowed`."
        ),
    )


class CustomerUpdate(Strict):
    model_config = example(
        {"version": 1, "phone": "+91 98765 00000", "address": "14 MG Road, Pune"}
    )

    version: int = Field(ge=1)
    full_name: Line | None = Field(default=None, min_length=1, max_length=200)
    phone: Phone | None = None
    email: Email | None = None
    national_id: Pan | None = None
    business_name: Line | None = Field(default=None, max_length=200)
    address: Lines | None = Field(default=None, max_length=500)
    user_id: uuid.UUID | None = None
    officer_id: uuid.UUID | None = Field(
        default=None,
        description="Admins only: reassigns the customer and their loans (else 422 "
        "`field_not_allowed`, unless it is the current officer)",
    )


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
    model_config = example(
        {
            "principal": "100000.00",
            "annual_rate": "18",
            "installments": 12,
            "frequency": "monthly",
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "expected_disbursement_date": "2026-12-01",
        }
    )

    currency: Currency = "INR"
    principal: Amount
    annual_rate: Percent
    installments: int = Field(ge=1, le=360)
    frequency: Frequency = Frequency.MONTHLY
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    grace_on_principal: int = Field(default=0, ge=0, le=359)
    expected_disbursement_date: IsoDate
    first_repayment_date: IsoDate | None = None

    @field_validator("principal")
    @classmethod
    def _fits(cls, principal: Decimal, info: ValidationInfo) -> Decimal:
        if "currency" in info.data:  # else the currency was refused already
            check_places(principal, info.data["currency"])
        return principal

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
    model_config = example(
        {
            "customer_id": CUSTOMER_ID,
            "principal": "100000.00",
            "annual_rate": "18",
            "installments": 12,
            "frequency": "monthly",
            "expected_disbursement_date": "2026-12-01",
            "purpose": "Stock for the festival season",
        }
    )

    customer_id: uuid.UUID


class LoanUpdate(Strict):
    model_config = example({"version": 1, "principal": "120000.00", "installments": 18})

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

    AMOUNTS: ClassVar[tuple[str, ...]] = (
        "overdue_amount",
        "principal_outstanding",
        "interest_outstanding",
    )


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

    @model_validator(mode="after")
    def _places(self) -> LoanRead:
        _with_places(self, self.currency, "principal", "principal_paid", "interest_paid")
        if self.delinquency is not None:
            _with_places(self.delinquency, self.currency, *DelinquencyRead.AMOUNTS)
        return self


class InstallmentRead(Read):
    number: int
    starts_on: date
    due_date: date
    principal: Decimal
    interest: Decimal
    principal_paid: Decimal = Decimal("0.00")
    interest_paid: Decimal = Decimal("0.00")
    interest_waived: Decimal = Decimal("0.00")

    AMOUNTS: ClassVar[tuple[str, ...]] = (
        "principal",
        "interest",
        "principal_paid",
        "interest_paid",
        "interest_waived",
    )

    @computed_field(description="What the installment asks for: principal + interest")
    def total(self) -> Decimal:
        return self.principal + self.interest

    @computed_field(description="What is still owed on it: the total less paid and waived")
    def remaining_due(self) -> Decimal:
        settled = self.principal_paid + self.interest_paid + self.interest_waived
        return self.total - settled  # type: ignore[operator]


class ScheduleRead(BaseModel):
    currency: str
    installments: list[InstallmentRead]
    total_principal: Decimal
    total_interest: Decimal

    @model_validator(mode="after")
    def _places(self) -> ScheduleRead:
        for installment in self.installments:
            _with_places(installment, self.currency, *InstallmentRead.AMOUNTS)
        _with_places(self, self.currency, "total_principal", "total_interest")
        return self


class PayoffQuoteRead(BaseModel):
    loan_id: uuid.UUID
    as_of: date
    currency: str
    principal: Decimal
    interest: Decimal
    total: Decimal

    @model_validator(mode="after")
    def _places(self) -> PayoffQuoteRead:
        _with_places(self, self.currency, "principal", "interest", "total")
        return self


class DisburseRequest(Strict):
    model_config = example({"disbursed_on": "2026-12-01"})

    disbursed_on: IsoDate | None = Field(default=None, description="Default today; not in future")


class PaymentCreate(Strict):
    model_config = example(
        {
            "loan_id": LOAN_ID,
            "amount": "9168.00",
            "paid_on": "2027-01-01",
            "method": "upi",
            "reference": "UPI-4471",
        }
    )

    loan_id: uuid.UUID
    amount: Amount
    paid_on: IsoDate
    method: PaymentMethod
    reference: Line | None = Field(default=None, max_length=100)
    notes: Lines | None = Field(default=None, max_length=500)


class PaymentUpdate(Strict):
    model_config = example({"reference": "UPI-4471", "notes": "Paid at the shop"})

    reference: Line | None = Field(default=None, max_length=100)
    notes: Lines | None = Field(default=None, max_length=500)


class PaymentRead(Read):
    id: uuid.UUID
    loan_id: uuid.UUID
    amount: Decimal
    currency: str = Field(description="The loan's")
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

    @model_validator(mode="after")
    def _places(self) -> PaymentRead:
        _with_places(self, self.currency, "amount", "principal_part", "interest_part")
        return self


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
