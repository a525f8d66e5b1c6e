"""Commerce's events. Availability of an active product is news for everyone who may shop;
that of a draft or archived one only for staff.

Realtime routes by audience (users, officers' portfolios, roles, everyone) and has no channel
for "the subscribers of one product" yet, so an update goes to the whole audience and a client
keeps the products it shows (docs/commerce.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bazaar.auth.roles import Role
from bazaar.events import Audience, Event


@dataclass(frozen=True, kw_only=True)
class InventoryUpdated(Event):
    type: ClassVar[str] = "inventory_update"
    notification: ClassVar[str | None] = "inventory_update"
    product_id: str
    variant_id: str
    location_id: str
    available: int
    sequence: int
    """The stock row's change counter: a later update has a larger one."""
    public: bool
    """The product is active (shown to buyers)."""

    def audience(self) -> Audience:
        if self.public:
            return Audience(everyone=True)
        return Audience(roles=(Role.ADMIN.value, Role.OFFICER.value))


@dataclass(frozen=True, kw_only=True)
class OrderStatusChanged(Event):
    """An order reached a status: news for its buyer."""

    type: ClassVar[str] = "order_status_change"
    notification: ClassVar[str | None] = "order_status_change"
    order_id: str
    number: str
    status: str
    user_id: str

    def audience(self) -> Audience:
        return Audience(users=(self.user_id,))


EVENTS = (InventoryUpdated, OrderStatusChanged)
