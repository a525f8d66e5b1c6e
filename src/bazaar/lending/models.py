"""Customers, loans, their installments, payments and payment reversals.

Loans keep their balances on the row (`principal_outstanding`, `oldest_unpaid_due`, ...) so that
reads and dashboards never replay payments; every payment or reversal recomputes them from the
payments in one transaction (`service.reallocate`). Installments are derived rows, not synced:
every node rebuilds them from the loan and its payments.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Dialect,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bazaar.db import Base, IdMixin, SyncMixin, TimestampMixin
from bazaar.lending.rules import Amortization, Frequency, InterestMethod, LoanStatus
from bazaar.money import ZERO
from bazaar.sqltypes import Money, str_enum

RATE_PLACES = 4


class Rate(TypeDecorator[Decimal]):
    """A percentage with up to 4 decimals, stored as an integer (exact on SQLite too)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = value.scaleb(RATE_PLACES)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {RATE_PLACES} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        rate = Decimal(int(value)).scaleb(-RATE_PLACES)
        # normalize() alone would write 20 as 2E+1.
        return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


class PaymentMethod(StrEnum):
    CASH = "cash"
    UPI = "upi"
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"


class Customer(IdMixin, TimestampMixin, SyncMixin, Base):
    __tablename__ = "customers"

    full_name: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    national_id: Mapped[str | None] = mapped_column(String(32), default=None)
    business_name: Mapped[str | None] = mapped_column(String(200), default=None)
    address: Mapped[str | None] = mapped_column(String(500), default=None)
    officer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id"), unique=True, default=None
    )


class Loan(IdMixin, TimestampMixin, SyncMixin, Base):
    __tablename__ = "loans"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    officer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    principal: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    annual_rate: Mapped[Decimal] = mapped_column(Rate)
    installments: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[Frequency] = mapped_column(str_enum(Frequency, "frequency"))
    interest_method: Mapped[InterestMethod] = mapped_column(
        str_enum(InterestMethod, "interest_method")
    )
    amortization: Mapped[Amortization] = mapped_column(str_enum(Amortization, "amortization"))
    grace_on_principal: Mapped[int] = mapped_column(Integer, default=0)
    expected_disbursement_date: Mapped[date] = mapped_column(Date)
    first_repayment_date: Mapped[date | None] = mapped_column(Date, default=None)
    purpose: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[LoanStatus] = mapped_column(
        str_enum(LoanStatus, "loan_status"), default=LoanStatus.DRAFT, index=True
    )

    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id"), default=None
    )
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id"), default=None
    )
    disbursed_on: Mapped[date | None] = mapped_column(Date, default=None)
    closed_on: Mapped[date | None] = mapped_column(Date, default=None)
    written_off_on: Mapped[date | None] = mapped_column(Date, default=None)

    principal_outstanding: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    interest_outstanding: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    principal_paid: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    interest_paid: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    oldest_unpaid_due: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    """Due date of the oldest installment not fully paid: days past due without a replay."""


class Installment(IdMixin, Base):
    __tablename__ = "loan_installments"
    __table_args__ = (UniqueConstraint("loan_id", "number"),)

    loan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("loans.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    principal: Mapped[Decimal] = mapped_column(Money)
    interest: Mapped[Decimal] = mapped_column(Money)
    principal_paid: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    interest_paid: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    interest_waived: Mapped[Decimal] = mapped_column(Money, default=ZERO)


class Payment(IdMixin, TimestampMixin, SyncMixin, Base):
    """A repayment. Its amount and date never change; a mistake is undone by a reversal."""

    __tablename__ = "payments"

    loan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loans.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date, index=True)
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    reference: Mapped[str | None] = mapped_column(String(100), default=None)
    notes: Mapped[str | None] = mapped_column(String(500), default=None)
    recorded_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    # The allocation as of the latest replay: a backdated payment or a reversal moves these.
    principal_part: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    interest_part: Mapped[Decimal] = mapped_column(Money, default=ZERO)


class PaymentReversal(IdMixin, TimestampMixin, SyncMixin, Base):
    """Undoes one payment; append-only like payments, so every node derives the same balance."""

    __tablename__ = "payment_reversals"

    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("payments.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(500))
    reversed_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
