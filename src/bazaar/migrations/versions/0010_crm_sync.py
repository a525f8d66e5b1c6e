"""CRM sync manager: each connection's sync settings, links between local rows and external
records with the values last agreed, checkpoints, runs with their journal, and conflicts.

Revision ID: 0010_crm_sync
Revises: 0009_crm
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0010_crm_sync"
down_revision: str | None = "0009_crm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIRECTIONS = ("pull", "push", "bidirectional")
STRATEGIES = ("API_WINS", "DB_WINS", "LATEST_TIMESTAMP", "MANUAL_REVIEW")
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "interrupted", "rolled_back")
PENDING = ("pull", "push", "create")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _connection(table: str) -> sa.Column[object]:
    return sa.Column(
        "connection_id",
        sa.Uuid(),
        sa.ForeignKey(
            "crm_connections.id",
            name=op.f(f"fk_{table}_connection_id_crm_connections"),
            ondelete="CASCADE",
        ),
        nullable=False,
    )


def _settings() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column(
            "direction", _enum(DIRECTIONS, "crm_sync_direction"), server_default="bidirectional"
        ),
        sa.Column(
            "entities",
            sa.JSON(),
            server_default='["users", "clients", "projects", "tasks", "comments"]',
        ),
        sa.Column("batch_size", sa.Integer(), server_default="100"),
        sa.Column("interval_minutes", sa.Integer(), server_default="15"),
        sa.Column("sync_deleted", sa.Boolean(), server_default=sa.true()),
        sa.Column(
            "strategy", _enum(STRATEGIES, "crm_sync_strategy"), server_default="LATEST_TIMESTAMP"
        ),
        sa.Column("strategies", sa.JSON(), server_default="{}"),
        sa.Column("skew_seconds", sa.Float(), server_default="5"),
        sa.Column("lookback_seconds", sa.Integer(), server_default="120"),
    )


UPDATED_AT = ("crm_clients", "crm_projects", "crm_tasks", "crm_comments")
"""The push looks for rows edited since its checkpoint: by index, not by scanning them all."""


def upgrade() -> None:
    for table in UPDATED_AT:
        op.create_index(f"ix_{table}_updated_at", table, ["updated_at"])
    with op.batch_alter_table("crm_connections") as batch:
        for column in _settings():
            column.nullable = False
            batch.add_column(column)
    op.create_table(
        "crm_sync_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        _connection("crm_sync_links"),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("local_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("base", sa.JSON(), nullable=True),
        sa.Column("base_hash", sa.String(length=64), nullable=True),
        sa.Column("local_version", sa.Integer(), nullable=True),
        sa.Column("remote_updated_at", UTCDateTime(), nullable=True),
        sa.Column("pending", _enum(PENDING, "crm_sync_pending"), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sync_links")),
        sa.UniqueConstraint(
            "connection_id",
            "entity",
            "external_id",
            name=op.f("uq_crm_sync_links_connection_id"),
        ),
    )
    op.create_index(
        "ix_crm_sync_links_local",
        "crm_sync_links",
        ["connection_id", "entity", "local_id"],
        unique=True,
    )
    op.create_index(
        "ix_crm_sync_links_pending", "crm_sync_links", ["connection_id", "entity", "pending"]
    )
    op.create_table(
        "crm_sync_checkpoints",
        _connection("crm_sync_checkpoints"),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("pulled_until", UTCDateTime(), nullable=True),
        sa.Column("pushed_until", UTCDateTime(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "entity", name=op.f("pk_crm_sync_checkpoints")),
    )
    op.create_table(
        "crm_sync_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        _connection("crm_sync_runs"),
        sa.Column("status", _enum(RUN_STATUSES, "crm_sync_run_status"), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("pulled", "pushed", "created", "updated", "deleted", "conflicts")
        ),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("cursors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sync_runs")),
    )
    op.create_index("ix_crm_sync_runs_status", "crm_sync_runs", ["status"])
    op.create_index("ix_crm_sync_runs_connection", "crm_sync_runs", ["connection_id", "started_at"])
    op.create_table(
        "crm_sync_journal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "run_id",
            sa.Uuid(),
            sa.ForeignKey(
                "crm_sync_runs.id",
                name=op.f("fk_crm_sync_journal_run_id_crm_sync_runs"),
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("local_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.String(length=64), nullable=True),
        sa.Column("link_base", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sync_journal")),
    )
    op.create_index("ix_crm_sync_journal_run", "crm_sync_journal", ["run_id", "seq"])
    op.create_table(
        "crm_sync_conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        _connection("crm_sync_conflicts"),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column(
            "link_id",
            sa.Uuid(),
            sa.ForeignKey(
                "crm_sync_links.id",
                name=op.f("fk_crm_sync_conflicts_link_id_crm_sync_links"),
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column(
            "status", _enum(("open", "resolved"), "crm_sync_conflict_status"), nullable=False
        ),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sync_conflicts")),
    )
    op.create_index("ix_crm_sync_conflicts_link_id", "crm_sync_conflicts", ["link_id"])
    op.create_index(
        "ix_crm_sync_conflicts_filter", "crm_sync_conflicts", ["connection_id", "entity", "status"]
    )


def downgrade() -> None:
    for table in UPDATED_AT:
        op.drop_index(f"ix_{table}_updated_at", table_name=table)
    for table in (
        "crm_sync_conflicts",
        "crm_sync_journal",
        "crm_sync_runs",
        "crm_sync_checkpoints",
        "crm_sync_links",
    ):
        op.drop_table(table)
    with op.batch_alter_table("crm_connections") as batch:
        for column in reversed(_settings()):
            batch.drop_column(column.name)
