"""Coupon usage limits: overall (a counter the order's conditional update raises) and per
buyer (the uses, one per order).

Revision ID: 0014_coupon_limits
Revises: 0013_orders
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0014_coupon_limits"
down_revision: str | None = "0013_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coupons") as coupons:
        coupons.add_column(sa.Column("usage_limit", sa.Integer(), nullable=True))
        coupons.add_column(sa.Column("per_customer_limit", sa.Integer(), nullable=True))
        coupons.add_column(
            sa.Column("times_used", sa.Integer(), nullable=False, server_default="0")
        )
        coupons.create_check_constraint(
            op.f("ck_coupons_within_usage_limit"),
            "usage_limit IS NULL OR times_used <= usage_limit",
        )
    op.create_table(
        "coupon_uses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_uses_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coupon_uses_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_coupon_uses_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_uses")),
        sa.UniqueConstraint("order_id", name=op.f("uq_coupon_uses_order_id")),
    )
    op.create_index("ix_coupon_uses_coupon_id_user_id", "coupon_uses", ["coupon_id", "user_id"])


def downgrade() -> None:
    op.drop_table("coupon_uses")
    with op.batch_alter_table("coupons") as coupons:
        coupons.drop_constraint(op.f("ck_coupons_within_usage_limit"), type_="check")
        for column in ("times_used", "per_customer_limit", "usage_limit"):
            coupons.drop_column(column)
