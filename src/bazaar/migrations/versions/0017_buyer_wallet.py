"""A buyer's saved addresses and payment methods.

Revision ID: 0017_buyer_wallet
Revises: 0016_points_earned
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0017_buyer_wallet"
down_revision: str | None = "0016_points_earned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owned(table: str, *columns: sa.Column[object]) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        *columns,
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_user_id"), table, ["user_id"])


def upgrade() -> None:
    _owned(
        "buyer_addresses",
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
    )
    _owned(
        "saved_payment_methods",
        sa.Column(
            "tender",
            sa.Enum("card", "upi", name="payment_tender", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("token", sa.String(length=100), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("saved_payment_methods")
    op.drop_table("buyer_addresses")
