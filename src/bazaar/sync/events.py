"""What sync tells people: a node's push as the hub saw it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bazaar.auth.roles import Role
from bazaar.events import Audience, Event
from bazaar.realtime.messages import NotificationType


@dataclass(frozen=True, kw_only=True)
class NodePushed(Event):
    """A field node's push reached the hub: its officer and the hub's admins see the outcome."""

    type: ClassVar[str] = "sync.node_pushed"
    notification: ClassVar[str | None] = NotificationType.SYNC_STATUS
    phase: str = "pushed"
    node_id: str
    officer_id: str | None
    applied: int
    duplicates: int
    conflicts: int
    rejected: int

    def audience(self) -> Audience:
        officers = (self.officer_id,) if self.officer_id else ()
        return Audience(officers=officers, roles=(Role.ADMIN.value,))
