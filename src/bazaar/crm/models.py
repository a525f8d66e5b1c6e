"""Clients, projects, tasks and comments: every row replicated (SyncMixin) and soft-deleted.

A client may point at a lending customer by id only: domains do not share tables, so the
link is checked through lending's service when it is set, not by a foreign key.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import Date, Enum, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.crm.rules import EntityType, Priority, ProjectStatus, TaskStatus
from bazaar.db import Base, IdMixin, SyncMixin, TimestampMixin


def _enum(kind: type[StrEnum], name: str) -> Enum:
    return Enum(
        kind,
        native_enum=False,
        length=32,
        name=name,
        values_callable=lambda members: [m.value for m in members],
    )


class CrmClient(IdMixin, TimestampMixin, SyncMixin, Base):
    __tablename__ = "crm_clients"

    name: Mapped[str] = mapped_column(String(200), index=True)
    contact_person: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    company: Mapped[str | None] = mapped_column(String(200), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    """A lending customer, by id (see the module docstring)."""
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    """The relationship manager (an officer) whose client it is."""


class Project(IdMixin, TimestampMixin, SyncMixin, Base):
    __tablename__ = "crm_projects"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[ProjectStatus] = mapped_column(
        _enum(ProjectStatus, "crm_project_status"), default=ProjectStatus.PLANNED, index=True
    )
    priority: Mapped[Priority] = mapped_column(
        _enum(Priority, "crm_priority"), default=Priority.MEDIUM
    )
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_clients.id"), default=None, index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    start_date: Mapped[date | None] = mapped_column(Date, default=None)
    due_date: Mapped[date | None] = mapped_column(Date, default=None)


class Task(IdMixin, TimestampMixin, SyncMixin, Base):
    __tablename__ = "crm_tasks"

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("crm_projects.id"), index=True)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id"), default=None, index=True
    )
    status: Mapped[TaskStatus] = mapped_column(
        _enum(TaskStatus, "crm_task_status"), default=TaskStatus.TODO, index=True
    )
    priority: Mapped[Priority] = mapped_column(
        _enum(Priority, "crm_priority"), default=Priority.MEDIUM
    )
    due_date: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_tasks.id"), default=None, index=True
    )


class Comment(IdMixin, TimestampMixin, SyncMixin, Base):
    __tablename__ = "crm_comments"
    __table_args__ = (Index("ix_crm_comments_entity", "entity_type", "entity_id"),)

    content: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[EntityType] = mapped_column(_enum(EntityType, "crm_entity_type"))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    """The owner of what the comment is about, when it was written: whose node it reaches."""
