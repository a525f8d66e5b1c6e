"""Loyalty: coupons, the append-only points ledger, and the discounts a cart and a checkout
session carry.

Revision ID: 0012_loyalty
Revises: 0011_commerce
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0012_loyalty"
down_revision: str | None = "0011_commerce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIERS = ("bronze", "silver", "gold", "platinum")
COUPON_KINDS = ("percentage", "fixed")
POINTS_KINDS = ("earned", "redeemed", "reversed", "expired", "adjusted")
_APPEND_ONLY = "loyalty_entries is append-only"


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("kind", _enum(COUPON_KINDS, "coupon_kind"), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("min_purchase", sa.BigInteger(), nullable=False),
        sa.Column("max_discount", sa.BigInteger(), nullable=True),
        sa.Column("min_tier", _enum(TIERS, "loyalty_tier"), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("value > 0", name=op.f("ck_coupons_value_positive")),
        sa.CheckConstraint(
            "kind <> 'percentage' OR value <= 100000",
            name=op.f("ck_coupons_percentage_at_most_100"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum(POINTS_KINDS, "points_kind"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("points <> 0", name=op.f("ck_loyalty_entries_points_nonzero")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_loyalty_entries_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_loyalty_entries_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
    )
    for column in ("user_id", "expires_at"):
        op.create_index(op.f(f"ix_loyalty_entries_{column}"), "loyalty_entries", [column])
    with op.batch_alter_table("carts") as carts:
        carts.add_column(sa.Column("coupon_code", sa.String(length=32), nullable=True))
        carts.add_column(
            sa.Column("redeem_points", sa.Integer(), nullable=False, server_default="0")
        )
    # Sessions made before loyalty had no discounts: zero is what they were.
    with op.batch_alter_table("checkout_sessions") as sessions:
        sessions.add_column(sa.Column("coupon_code", sa.String(length=32), nullable=True))
        for column in ("coupon_discount", "tier_discount", "points_discount"):
            sessions.add_column(
                sa.Column(column, sa.BigInteger(), nullable=False, server_default="0")
            )
        sessions.add_column(
            sa.Column("tier", _enum(TIERS, "loyalty_tier"), nullable=False, server_default="bronze")
        )
        sessions.add_column(
            sa.Column("points_redeemed", sa.Integer(), nullable=False, server_default="0")
        )
    # As the stock ledger: no entry changes once written (deleting stays possible, for the
    # rows of a user who is erased, and for tests that empty the tables).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION loyalty_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER loyalty_entries_append_only BEFORE UPDATE ON loyalty_entries "
            "FOR EACH ROW EXECUTE FUNCTION loyalty_entries_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER loyalty_entries_append_only BEFORE UPDATE ON loyalty_entries "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER loyalty_entries_append_only ON loyalty_entries")
        op.execute("DROP FUNCTION loyalty_entries_append_only()")
    else:
        op.execute("DROP TRIGGER loyalty_entries_append_only")
    with op.batch_alter_table("checkout_sessions") as sessions:
        for column in (
            "points_redeemed",
            "tier",
            "points_discount",
            "tier_discount",
            "coupon_discount",
            "coupon_code",
        ):
            sessions.drop_column(column)
    with op.batch_alter_table("carts") as carts:
        carts.drop_column("redeem_points")
        carts.drop_column("coupon_code")
    op.drop_table("loyalty_entries")
    op.drop_table("coupons")
