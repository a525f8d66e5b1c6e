"""CRM vocabulary and its pure rules: statuses, which moves between them are legal, cycles."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar


class ProjectStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class EntityType(StrEnum):
    """What a comment may be about."""

    PROJECT = "project"
    TASK = "task"
    CLIENT = "client"


# A finished project or task is reopened explicitly (completed -> active, done -> in_progress)
# and a cancelled one restarts from the beginning, so no history is skipped silently.
PROJECT_MOVES: Mapping[ProjectStatus, frozenset[ProjectStatus]] = {
    ProjectStatus.PLANNED: frozenset(
        {ProjectStatus.ACTIVE, ProjectStatus.ON_HOLD, ProjectStatus.CANCELLED}
    ),
    ProjectStatus.ACTIVE: frozenset(
        {ProjectStatus.ON_HOLD, ProjectStatus.COMPLETED, ProjectStatus.CANCELLED}
    ),
    ProjectStatus.ON_HOLD: frozenset({ProjectStatus.ACTIVE, ProjectStatus.CANCELLED}),
    ProjectStatus.COMPLETED: frozenset({ProjectStatus.ACTIVE}),
    ProjectStatus.CANCELLED: frozenset({ProjectStatus.PLANNED}),
}
TASK_MOVES: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.TODO: frozenset(
        {TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED, TaskStatus.DONE, TaskStatus.CANCELLED}
    ),
    TaskStatus.IN_PROGRESS: frozenset(
        {TaskStatus.TODO, TaskStatus.BLOCKED, TaskStatus.DONE, TaskStatus.CANCELLED}
    ),
    TaskStatus.BLOCKED: frozenset({TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset({TaskStatus.IN_PROGRESS}),
    TaskStatus.CANCELLED: frozenset({TaskStatus.TODO}),
}
S = TypeVar("S", bound=StrEnum)

OPEN_TASKS = frozenset({TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED})
"""A task past its due date in one of these is overdue."""


def allowed_moves(moves: Mapping[S, frozenset[S]], current: S) -> list[str]:
    return sorted(status.value for status in moves[current])


def makes_cycle(
    *, task_id: uuid.UUID, parent_id: uuid.UUID, parents: Mapping[uuid.UUID, uuid.UUID | None]
) -> bool:
    """Whether making `parent_id` the parent of `task_id` closes a loop, given each known
    task's parent (`parents` holds at least the chain above `parent_id`)."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = parent_id
    while current is not None and current not in seen:
        if current == task_id:
            return True
        seen.add(current)
        current = parents.get(current)
    return current is not None  # a loop already stored above: refuse rather than extend it
