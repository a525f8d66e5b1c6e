"""Orders: the order with its totals, lines and tracking history, and the payment gateway's
webhook events (kept to apply each once).

Revision ID: 0013_orders
Revises: 0012_loyalty
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0013_orders"
down_revision: str | None = "0012_loyalty"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_STATUSES = ("placed", "paid", "packed", "shipped", "delivered")
TENDERS = ("card", "upi")
PAYMENT_STATUSES = ("authorized", "declined", "captured", "voided", "refunded")
TIERS = ("bronze", "silver", "gold", "platinum")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("checkout_session_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("status", _enum(ORDER_STATUSES, "order_status"), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("tender", _enum(TENDERS, "payment_tender"), nullable=False),
        sa.Column("tender_label", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=100), nullable=False),
        sa.Column("payment_status", _enum(PAYMENT_STATUSES, "payment_status"), nullable=False),
        sa.Column("tracking_number", sa.String(length=32), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("subtotal"),
        sa.Column("coupon_code", sa.String(length=32), nullable=True),
        _money("coupon_discount"),
        sa.Column("tier", _enum(TIERS, "loyalty_tier"), nullable=False),
        _money("tier_discount"),
        sa.Column("points_redeemed", sa.Integer(), nullable=False),
        _money("points_discount"),
        _money("tax"),
        _money("shipping"),
        _money("total"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.ForeignKeyConstraint(
            ["checkout_session_id"],
            ["checkout_sessions.id"],
            name=op.f("fk_orders_checkout_session_id_checkout_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
        sa.UniqueConstraint("checkout_session_id", name=op.f("uq_orders_checkout_session_id")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_orders_payment_id")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_orders_tracking_number")),
        sa.UniqueConstraint("user_id", "idempotency_key", name=op.f("uq_orders_user_id")),
    )
    op.create_index(op.f("ix_orders_user_id"), "orders", ["user_id"])
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _money("unit_price"),
        _money("line_total"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["product_variants.id"],
            name=op.f("fk_order_lines_variant_id_product_variants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"])
    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", _enum(ORDER_STATUSES, "order_status"), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_status_changes_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_order_status_changes_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_changes")),
    )
    op.create_index(op.f("ix_order_status_changes_order_id"), "order_status_changes", ["order_id"])
    op.create_table(
        "gateway_events",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("payment_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_gateway_events")),
    )


def downgrade() -> None:
    for table in ("gateway_events", "order_status_changes", "order_lines", "orders"):
        op.drop_table(table)
