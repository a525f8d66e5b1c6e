"""Who may use lending routes, and loans loaded within the caller's scope (or 404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from bazaar.auth.dependencies import require
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import SessionDep
from bazaar.lending import service
from bazaar.lending.models import Customer, Loan

LendingUser = Annotated[Principal, Depends(require(Role.ADMIN, Role.OFFICER, Role.CUSTOMER))]
"""Machine accounts (nodes) sync; they do not use the lending API."""


async def _loan(loan_id: uuid.UUID, session: SessionDep, principal: LendingUser) -> Loan:
    return await service.get_loan(session=session, principal=principal, loan_id=loan_id)


async def _customer(
    customer_id: uuid.UUID, session: SessionDep, principal: LendingUser
) -> Customer:
    return await service.get_customer(session=session, principal=principal, customer_id=customer_id)


LoanDep = Annotated[Loan, Depends(_loan)]
CustomerDep = Annotated[Customer, Depends(_customer)]
