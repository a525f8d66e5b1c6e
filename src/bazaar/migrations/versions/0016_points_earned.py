"""When an order's earned points were credited (once its return window closed).

Revision ID: 0016_points_earned
Revises: 0015_returns
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0016_points_earned"
down_revision: str | None = "0015_returns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as orders:
        orders.add_column(sa.Column("points_credited_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as orders:
        orders.drop_column("points_credited_at")
