"""Sync, field-ready: a sync key is bound to the first node id that uses it.

Revision ID: 0006_sync_field_ready
Revises: 0005_change_log_order
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sync_field_ready"
down_revision: str | None = "0005_change_log_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_peers") as batch:
        batch.add_column(sa.Column("api_key_id", sa.Uuid(), nullable=True))
        batch.create_unique_constraint(op.f("uq_sync_peers_api_key_id"), ["api_key_id"])


def downgrade() -> None:
    with op.batch_alter_table("sync_peers") as batch:
        batch.drop_constraint(op.f("uq_sync_peers_api_key_id"), type_="unique")
        batch.drop_column("api_key_id")
