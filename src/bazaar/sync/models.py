"""Sync's own tables: the change log, peers, the outbox, applied mutations and conflicts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.db import Base, IdMixin, SyncMixin, TimestampMixin
from bazaar.sqltypes import UTCDateTime, str_enum
from bazaar.stamps import utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class ItemStatus(StrEnum):
    PENDING = "pending"
    SYNCING = "syncing"
    SYNCED = "synced"
    FAILED = "failed"
    CONFLICT = "conflict"


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class PeerRole(StrEnum):
    HUB = "hub"
    NODE = "node"


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ChangeLog(Base):
    """Every write to a syncable row, in commit order; `seq` is the pull cursor."""

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity", "entity_type", "entity_id"),)

    seq: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    op: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    hlc: Mapped[str] = mapped_column(String(64))
    origin_node: Mapped[str] = mapped_column(String(64))
    # The officer whose portfolio the row belongs to: what scopes a pull.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True, default=None)
    # Field name -> HLC of that write (the edit's time, for latest_timestamp merges).
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncPeer(IdMixin, TimestampMixin, Base):
    """On a node: its hub (with the pull cursor). On a hub: each node that synced."""

    __tablename__ = "sync_peers"

    node_id: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[PeerRole] = mapped_column(str_enum(PeerRole, "peer_role", length=16))
    url: Mapped[str | None] = mapped_column(String(500), default=None)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True, default=None)
    """The sync key this node uses: a key serves the first node id that used it, only."""
    pull_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)


class SyncItem(TimestampMixin, Base):
    """The outbox of a node: one local change waiting to reach the hub. Its id is the
    mutation id, so a resend after a lost answer is recognised as a duplicate."""

    __tablename__ = "sync_items"
    __table_args__ = (
        Index("ix_sync_items_entity", "entity_type", "entity_id"),
        Index("ix_sync_items_due", "status", "priority", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    command: Mapped[str | None] = mapped_column(String(32), default=None)
    # Lower goes first: money before everything else.
    priority: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ItemStatus] = mapped_column(
        str_enum(ItemStatus, "sync_item_status", length=16), default=ItemStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SyncMutation(Base):
    """On the hub: the final outcome of every mutation id received, so none applies twice."""

    __tablename__ = "sync_mutations"

    mutation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "sync_outcome", length=16))
    reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    # A rejected command keeps its payload: rejected cash stays accounted for.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncCompaction(IdMixin, Base):
    """One compaction of the change log: entries up to `horizon_seq` were thinned out (only
    each row's latest kept, long-deleted rows dropped)."""

    __tablename__ = "sync_compactions"

    horizon_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    removed: Mapped[int] = mapped_column(Integer)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conflict(IdMixin, SyncMixin, Base):
    """Fields of a record change parked for a person, with base, server and client values.

    Replicated like the rows it is about (`sync.conflicts`), to the officer who owns them: the
    node shows its open conflicts, and a resolution at the hub closes them there too."""

    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_entity", "entity_type", "entity_id"),)

    mutation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    node_id: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    client_hlc: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    """The officer whose row it is: who sees the conflict and whose node receives it."""
    status: Mapped[ConflictStatus] = mapped_column(
        str_enum(ConflictStatus, "conflict_status", length=16),
        default=ConflictStatus.OPEN,
        index=True,
    )
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
