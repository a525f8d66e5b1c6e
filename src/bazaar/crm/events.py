"""CRM events. A comment is heard by the people of what it is about (its owner and the
assignees), never by its own author; an assignment by the new assignee."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bazaar.events import Audience, Event


@dataclass(frozen=True, kw_only=True)
class CommentAdded(Event):
    type: ClassVar[str] = "comment_added"
    notification: ClassVar[str | None] = "comment_added"
    comment_id: str
    entity_type: str
    entity_id: str
    author_id: str
    recipients: tuple[str, ...]
    """Owner and assignees of the entity, without the author."""

    def audience(self) -> Audience:
        return Audience(users=self.recipients)


@dataclass(frozen=True, kw_only=True)
class TaskAssigned(Event):
    type: ClassVar[str] = "task_assigned"
    notification: ClassVar[str | None] = "task_assigned"
    task_id: str
    project_id: str
    assignee_id: str
    by: str

    def audience(self) -> Audience:
        return Audience(users=(self.assignee_id,))


EVENTS = (CommentAdded, TaskAssigned)
