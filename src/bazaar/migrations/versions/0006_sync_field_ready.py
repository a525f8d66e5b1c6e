"""Sync, field-ready: a sync key is bound to the first node id that uses it, and conflicts
replicate to their officer's node (sync columns and the owning officer), and the change log
is compacted (each compaction's horizon recorded).

Revision ID: 0006_sync_field_ready
Revises: 0005_change_log_order
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0006_sync_field_ready"
down_revision: str | None = "0005_change_log_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_peers") as batch:
        batch.add_column(sa.Column("api_key_id", sa.Uuid(), nullable=True))
        batch.create_unique_constraint(op.f("uq_sync_peers_api_key_id"), ["api_key_id"])
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("updated_hlc", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("origin_node", sa.String(length=64), nullable=True))
    with op.batch_alter_table("conflicts") as batch:
        batch.alter_column("version", server_default=None)
    op.create_table(
        "sync_compactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("horizon_seq", sa.BigInteger(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("ran_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_compactions")),
    )
    op.create_index(op.f("ix_sync_compactions_horizon_seq"), "sync_compactions", ["horizon_seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sync_compactions_horizon_seq"), table_name="sync_compactions")
    op.drop_table("sync_compactions")
    with op.batch_alter_table("conflicts") as batch:
        for column in ("origin_node", "deleted_at", "updated_hlc", "version", "owner_id"):
            batch.drop_column(column)
    with op.batch_alter_table("sync_peers") as batch:
        batch.drop_constraint(op.f("uq_sync_peers_api_key_id"), type_="unique")
        batch.drop_column("api_key_id")
