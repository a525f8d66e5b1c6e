"""What the sync manager keeps: which local row is which external record and the values both
sides last agreed on, where each entity's pull stopped, runs with their journal, and the
conflicts parked for review. None of it is replicated to field nodes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.db import Base, IdMixin
from bazaar.sqltypes import UTCDateTime, str_enum
from bazaar.stamps import utcnow


class Direction(StrEnum):
    PULL = "pull"
    PUSH = "push"
    BIDIRECTIONAL = "bidirectional"


class Strategy(StrEnum):
    API_WINS = "API_WINS"
    DB_WINS = "DB_WINS"
    LATEST_TIMESTAMP = "LATEST_TIMESTAMP"
    MANUAL_REVIEW = "MANUAL_REVIEW"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    """Finished, but some records failed: they are listed and retried on the next run."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Its process died; the next run resumes from the checkpoints."""
    ROLLED_BACK = "rolled_back"


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Pending(StrEnum):
    PULL = "pull"
    """The remote record failed to apply: fetched again on the next run."""
    PUSH = "push"
    """The local row failed to reach the CRM: sent again on the next run."""
    CREATE = "create"
    """A create was sent; the CRM's id is not known yet (the process may have died): the next
    run adopts the record carrying our id before sending it again."""


class SyncLink(IdMixin, Base):
    """One record known to both sides. `base` holds the canonical values (external ids for
    references) both sides had when they last agreed, and `base_hash` their hash: a side whose
    hash differs from it changed since. A user the CRM knows but Bazaar does not is a link
    without a local row: a CRM contact, never a Bazaar account."""

    __tablename__ = "crm_sync_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "entity", "external_id"),
        Index("ix_crm_sync_links_local", "connection_id", "entity", "local_id", unique=True),
        Index("ix_crm_sync_links_pending", "connection_id", "entity", "pending"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_connections.id", ondelete="CASCADE")
    )
    entity: Mapped[str] = mapped_column(String(20))
    local_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    base: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    base_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    local_version: Mapped[int | None] = mapped_column(Integer, default=None)
    """The local row's version when it was last synced: a higher one was edited since."""
    remote_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    pending: Mapped[Pending | None] = mapped_column(
        str_enum(Pending, "crm_sync_pending"), default=None
    )
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncCheckpoint(Base):
    __tablename__ = "crm_sync_checkpoints"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_connections.id", ondelete="CASCADE"), primary_key=True
    )
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    pulled_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """The newest remote `updated_at` applied; the next pull asks from it minus the lookback."""
    pushed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """The newest local `updated_at` sent, the same way for the push."""
    page: Mapped[int] = mapped_column(Integer, default=0)
    """Pages of the current pull already applied: an interrupted run resumes after them."""
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    """The run `page` belongs to."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncRun(IdMixin, Base):
    __tablename__ = "crm_sync_runs"
    __table_args__ = (Index("ix_crm_sync_runs_connection", "connection_id", "started_at"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_connections.id", ondelete="CASCADE")
    )
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "crm_sync_run_status"), default=RunStatus.RUNNING, index=True
    )
    trigger: Mapped[str] = mapped_column(String(20), default="api")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    pulled: Mapped[int] = mapped_column(Integer, default=0)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Per record: entity, side, local_id, external_id and the CRM's message."""
    cursors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Each entity's `pulled_until` before the run, which a rollback restores."""


class JournalEntry(IdMixin, Base):
    """One write a run made. `before` is the local row's columns (or the remote record's
    canonical values) before it, None for a create; `after` is the local version or the
    remote `updated_at` it left, to tell whether anyone changed the record since."""

    __tablename__ = "crm_sync_journal"
    __table_args__ = (Index("ix_crm_sync_journal_run", "run_id", "seq"),)

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_sync_runs.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(20))
    local_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[str | None] = mapped_column(String(64), default=None)
    link_base: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """The link's agreed values before the write, which a rollback restores."""


class SyncConflict(IdMixin, Base):
    __tablename__ = "crm_sync_conflicts"
    __table_args__ = (Index("ix_crm_sync_conflicts_filter", "connection_id", "entity", "status"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_connections.id", ondelete="CASCADE")
    )
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    link_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_sync_links.id", ondelete="CASCADE"), index=True
    )
    entity: Mapped[str] = mapped_column(String(20))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Per field: {"base", "local", "remote"}."""
    status: Mapped[ConflictStatus] = mapped_column(
        str_enum(ConflictStatus, "crm_sync_conflict_status"), default=ConflictStatus.OPEN
    )
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
