"""Who sees which rows: admins everything, officers their portfolio, customers their own.

Rows outside a caller's scope do not exist for them (404, never 403), so every lookup goes
through these filters.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BindParameter, ColumnElement, false, select, true

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.lending.models import Customer, Loan

UserId = uuid.UUID | BindParameter[uuid.UUID]


def customers_visible(principal: Principal) -> ColumnElement[bool]:
    live = Customer.deleted_at.is_(None)
    if principal.role is Role.ADMIN:
        return live & true()
    if principal.role is Role.OFFICER:
        return live & (Customer.officer_id == principal.user_id)
    if principal.role is Role.CUSTOMER:
        return live & (Customer.user_id == principal.user_id)
    return false()


def loans_visible(principal: Principal) -> ColumnElement[bool]:
    return loans_visible_to(principal.role, principal.user_id)


def loans_visible_to(role: Role, user_id: UserId) -> ColumnElement[bool]:
    """`user_id` may be a bound parameter, for statements built once and run many times."""
    live = Loan.deleted_at.is_(None)
    if role is Role.ADMIN:
        return live & true()
    if role is Role.OFFICER:
        return live & (Loan.officer_id == user_id)
    if role is Role.CUSTOMER:
        own = select(Customer.id).where(Customer.user_id == user_id)
        return live & Loan.customer_id.in_(own.scalar_subquery())
    return false()


def shown_to(principal: Principal, row: Customer | Loan) -> bool:
    """For a row already loaded, whether the filters above surely show it to `principal`:
    their admin and officer cases. False also when unsure (a borrower's rows), so that the
    caller asks the database."""
    mine = principal.role is Role.ADMIN or (
        principal.role is Role.OFFICER and row.officer_id == principal.user_id
    )
    return mine and row.deleted_at is None
