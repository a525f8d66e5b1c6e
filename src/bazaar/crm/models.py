"""Clients, projects, tasks and comments: every row replicated (SyncMixin) and soft-deleted.

A client may point at a lending customer by id only: domains do not share tables, so the
link is checked through lending's service when it is set, not by a foreign key.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.crm.client.dialect import RESOURCES
from bazaar.crm.mirror.models import Direction, Strategy
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
    __table_args__ = (Index("ix_crm_clients_updated_at", "updated_at"),)

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
    __table_args__ = (Index("ix_crm_projects_updated_at", "updated_at"),)

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
    __table_args__ = (Index("ix_crm_tasks_updated_at", "updated_at"),)

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
    __table_args__ = (
        Index("ix_crm_comments_entity", "entity_type", "entity_id"),
        Index("ix_crm_comments_updated_at", "updated_at"),
    )

    content: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[EntityType] = mapped_column(_enum(EntityType, "crm_entity_type"))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    """The owner of what the comment is about, when it was written: whose node it reaches."""


class AuthType(StrEnum):
    JWT = "jwt"
    OAUTH = "oauth"
    API_KEY = "api_key"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    AUTH_FAILED = "auth_failed"
    """The CRM refused the credentials: nothing is sent until an admin fixes them."""


class CrmConnection(IdMixin, TimestampMixin, Base):
    """An external CRM an admin connected. Not replicated: it holds secrets, which the API
    accepts but never returns, and field nodes do not talk to the CRM."""

    __tablename__ = "crm_connections"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    api_version: Mapped[str] = mapped_column(String(20), default="v1")
    timeout_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    # No default here: the ORM would put it in place of an explicit None (limit off).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    auth_type: Mapped[AuthType] = mapped_column(_enum(AuthType, "crm_auth_type"))
    username: Mapped[str | None] = mapped_column(String(200), default=None)
    token_url: Mapped[str | None] = mapped_column(String(500), default=None)
    client_id: Mapped[str | None] = mapped_column(String(200), default=None)
    api_key_header: Mapped[str] = mapped_column(String(100), default="X-API-Key")
    refresh_margin_seconds: Mapped[int] = mapped_column(Integer, default=300)
    password: Mapped[str | None] = mapped_column(String(500), default=None)
    client_secret: Mapped[str | None] = mapped_column(String(500), default=None)
    api_key: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[ConnectionStatus] = mapped_column(
        _enum(ConnectionStatus, "crm_connection_status"), default=ConnectionStatus.ACTIVE
    )
    status_message: Mapped[str | None] = mapped_column(String(500), default=None)
    access_token: Mapped[str | None] = mapped_column(Text, default=None)
    refresh_token: Mapped[str | None] = mapped_column(Text, default=None)
    token_expires_at: Mapped[float | None] = mapped_column(Float, default=None)
    direction: Mapped[Direction] = mapped_column(
        _enum(Direction, "crm_sync_direction"), default=Direction.BIDIRECTIONAL
    )
    entities: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(RESOURCES))
    batch_size: Mapped[int] = mapped_column(Integer, default=100)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    sync_deleted: Mapped[bool] = mapped_column(Boolean, default=True)
    strategy: Mapped[Strategy] = mapped_column(
        _enum(Strategy, "crm_sync_strategy"), default=Strategy.LATEST_TIMESTAMP
    )
    strategies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Overrides: {"tasks": "API_WINS", "tasks.status": "MANUAL_REVIEW"}; a field's beats its
    entity's, which beats `strategy`."""
    skew_seconds: Mapped[float] = mapped_column(Float, default=5.0)
    """Under LATEST_TIMESTAMP, `updated_at`s closer than this go to review."""
    lookback_seconds: Mapped[int] = mapped_column(Integer, default=120)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def has_password(self) -> bool:
        return self.password is not None

    @property
    def has_client_secret(self) -> bool:
        return self.client_secret is not None

    @property
    def has_api_key(self) -> bool:
        return self.api_key is not None
