"""Lending's events. Each is heard by the loan's readers over REST: the borrower, the loan's
officer and the admins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bazaar.auth.roles import Role
from bazaar.events import Audience, Event


@dataclass(frozen=True, kw_only=True)
class LoanEvent(Event):
    loan_id: str
    customer_id: str
    officer_id: str
    customer_user_id: str | None
    """The borrower's user account, when they have one."""

    def audience(self) -> Audience:
        users = (self.customer_user_id,) if self.customer_user_id else ()
        return Audience(users=users, officers=(self.officer_id,), roles=(Role.ADMIN.value,))


@dataclass(frozen=True, kw_only=True)
class LoanStatusChanged(LoanEvent):
    type: ClassVar[str] = "loan_status_change"
    notification: ClassVar[str | None] = "loan_status_change"
    old_status: str
    new_status: str
    by: str | None


@dataclass(frozen=True, kw_only=True)
class ApplicationSubmitted(LoanEvent):
    type: ClassVar[str] = "new_application"
    notification: ClassVar[str | None] = "new_application"
    principal: str


@dataclass(frozen=True, kw_only=True)
class PaymentReceived(LoanEvent):
    type: ClassVar[str] = "payment_received"
    notification: ClassVar[str | None] = "payment_received"
    payment_id: str
    amount: str
    paid_on: str


@dataclass(frozen=True, kw_only=True)
class PaymentReversed(LoanEvent):
    type: ClassVar[str] = "payment_reversed"
    notification: ClassVar[str | None] = "payment_reversed"
    payment_id: str


EVENTS = (LoanStatusChanged, ApplicationSubmitted, PaymentReceived, PaymentReversed)
