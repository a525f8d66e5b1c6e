"""Who sees which catalog rows: staff every product, buyers the active ones. A product a
caller may not see does not exist for them (404, never 403)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.commerce.models import Product
from bazaar.commerce.rules import ProductStatus

STAFF = frozenset({Role.ADMIN, Role.OFFICER})


def products_visible(principal: Principal) -> ColumnElement[bool]:
    if principal.role in STAFF:
        return true()
    return Product.status == ProductStatus.ACTIVE
