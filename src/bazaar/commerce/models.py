"""Catalog, stock, carts, checkout sessions, coupons and the loyalty ledger. None of it is
replicated to field nodes.

Stock is a row per (location, variant) holding `on_hand` and `reserved`; the database refuses
a negative reservation or one beyond what is on hand (check constraints), so no code path can
oversell. Every change of either is also a row of the append-only `stock_movements` ledger,
whose deltas sum to the stock row. A hold is a cart's reservation at one location, with an
expiry; releasing one deletes it, so the live holds of a stock row sum to its `reserved`.

Loyalty points are the append-only `loyalty_entries` ledger: a buyer's balance is the sum of
their entries, and expiry is an entry too (commerce/loyalty.py).

The full-text index is not mapped here: migration 0011 builds it per backend (an FTS5 table on
SQLite, a tsvector table with GIN indexes on PostgreSQL) and triggers keep it current in the
product write's own transaction (commerce/search.py reads it).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.commerce.payments.gateway import PaymentStatus, Tender
from bazaar.commerce.rules import (
    CouponKind,
    LocationKind,
    MovementKind,
    OrderStatus,
    PointsKind,
    ProductStatus,
    ReturnStatus,
    Tier,
)
from bazaar.db import UNMAPPED_TABLES, Base, IdMixin, TimestampMixin
from bazaar.sqltypes import Money, UTCDateTime, str_enum
from bazaar.stamps import utcnow

SEARCH_TABLES = ("product_search", "product_search_terms")
Base.metadata.info.setdefault(UNMAPPED_TABLES, set()).update(SEARCH_TABLES)


class Product(IdMixin, TimestampMixin, Base):
    __tablename__ = "products"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), index=True)
    brand: Mapped[str] = mapped_column(String(100), index=True)
    base_price: Mapped[Decimal] = mapped_column(Money, index=True)
    images: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rating: Mapped[float] = mapped_column(Float, default=0.0)
    """The average review, 0 to 5 (reviews are not there yet: the demo sets it)."""
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[ProductStatus] = mapped_column(
        str_enum(ProductStatus, "product_status"), default=ProductStatus.DRAFT, index=True
    )


class Variant(IdMixin, TimestampMixin, Base):
    __tablename__ = "product_variants"

    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str | None] = mapped_column(String(50), default=None)
    size: Mapped[str | None] = mapped_column(String(50), default=None)
    price: Mapped[Decimal | None] = mapped_column(Money, default=None)
    """Overrides the product's base price when set."""


class Location(IdMixin, TimestampMixin, Base):
    __tablename__ = "stock_locations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[LocationKind] = mapped_column(str_enum(LocationKind, "stock_location_kind"))
    address: Mapped[str] = mapped_column(String(500))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    """Lower is used first under the `priority` allocation."""


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("on_hand - reserved >= 0", name="available_not_negative"),
    )

    location_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("stock_locations.id"), primary_key=True
    )
    variant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("product_variants.id"), primary_key=True, index=True
    )
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    """Counts the row's changes: `inventory_update` carries it so a client can drop one that
    arrives after a newer one."""


class StockMovement(IdMixin, Base):
    """Append-only (a trigger refuses updates): on hand and reserved of a stock row are the
    sums of its movements' deltas."""

    __tablename__ = "stock_movements"

    location_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stock_locations.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("product_variants.id"), index=True
    )
    kind: Mapped[MovementKind] = mapped_column(str_enum(MovementKind, "stock_movement_kind"))
    on_hand_delta: Mapped[int] = mapped_column(Integer)
    reserved_delta: Mapped[int] = mapped_column(Integer)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    """The hold a reservation or release was for (holds are deleted when released)."""
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    """None for the expiry sweeper."""
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cart(IdMixin, TimestampMixin, Base):
    __tablename__ = "carts"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), unique=True)
    coupon_code: Mapped[str | None] = mapped_column(String(32), default=None)
    """Applied by the buyer; the totals show whether it still applies."""
    redeem_points: Mapped[int] = mapped_column(Integer, default=0)
    """Asked for by the buyer; the totals use at most the balance and what the cart costs."""


class CartItem(IdMixin, TimestampMixin, Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    cart_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("carts.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("product_variants.id"))
    quantity: Mapped[int] = mapped_column(Integer)


class StockHold(IdMixin, Base):
    __tablename__ = "stock_holds"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    cart_item_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cart_items.id"), index=True)
    location_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stock_locations.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("product_variants.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TotalsMixin:
    """The figures of `rules.Totals`, as a checkout session froze them and an order keeps them."""

    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money)
    coupon_code: Mapped[str | None] = mapped_column(String(32))
    coupon_discount: Mapped[Decimal] = mapped_column(Money)
    tier: Mapped[Tier] = mapped_column(str_enum(Tier, "loyalty_tier"))
    tier_discount: Mapped[Decimal] = mapped_column(Money)
    points_redeemed: Mapped[int] = mapped_column(Integer)
    points_discount: Mapped[Decimal] = mapped_column(Money)
    tax: Mapped[Decimal] = mapped_column(Money)
    shipping: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)


class CheckoutSession(TotalsMixin, IdMixin, Base):
    """What the buyer agreed to at checkout: the lines with their prices, and the totals.
    An order is placed from it while its holds live."""

    __tablename__ = "checkout_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    cart_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("carts.id"))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(TotalsMixin, IdMixin, TimestampMixin, Base):
    """A placed order: one per checkout session, its totals copied from it."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    number: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    checkout_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("checkout_sessions.id"), unique=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "order_status"), index=True)
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    tender: Mapped[Tender] = mapped_column(str_enum(Tender, "payment_tender"))
    tender_label: Mapped[str] = mapped_column(String(40))
    """What the buyer sees of the tender ("card", "upi b***@okbank"); never the source."""
    payment_id: Mapped[str] = mapped_column(String(100), unique=True)
    """The gateway's payment id."""
    payment_status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus, "payment_status"))
    tracking_number: Mapped[str] = mapped_column(String(32), unique=True)
    estimated_delivery: Mapped[date] = mapped_column(Date)
    points_credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the order's earned points were credited: once its return window closed."""


class OrderLine(IdMixin, Base):
    __tablename__ = "order_lines"

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("product_variants.id"))
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    line_total: Mapped[Decimal] = mapped_column(Money)


class OrderStatusChange(IdMixin, Base):
    """The order's tracking history, one row per status it reached."""

    __tablename__ = "order_status_changes"

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "order_status"))
    note: Mapped[str] = mapped_column(String(200), default="")
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Return(IdMixin, TimestampMixin, Base):
    """A buyer's return of some units of an order; staff move it on (`rules.RETURN_MOVES`)."""

    __tablename__ = "returns"

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    status: Mapped[ReturnStatus] = mapped_column(str_enum(ReturnStatus, "return_status"))
    reason: Mapped[str] = mapped_column(String(500))
    refund_amount: Mapped[Decimal] = mapped_column(Money)
    """Fixed when requested: the units' share of what was paid for the goods."""
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("stock_locations.id"), default=None
    )
    """Where the units went back into stock, once received."""
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Each status reached: `status`, `at`, `by`, `note`."""


class ReturnLine(IdMixin, Base):
    __tablename__ = "return_lines"

    return_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("returns.id"), index=True)
    order_line_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("order_lines.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("product_variants.id"))
    quantity: Mapped[int] = mapped_column(Integer)


class BuyerAddress(IdMixin, TimestampMixin, Base):
    __tablename__ = "buyer_addresses"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class SavedPaymentMethod(IdMixin, TimestampMixin, Base):
    """A card as its gateway token and last four digits, or a UPI id masked: nothing that
    could be charged without the gateway, or read back as a card number."""

    __tablename__ = "saved_payment_methods"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    tender: Mapped[Tender] = mapped_column(str_enum(Tender, "payment_tender"))
    label: Mapped[str] = mapped_column(String(60))
    token: Mapped[str | None] = mapped_column(String(100), default=None)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class GatewayEvent(Base):
    """A webhook event from the payment gateway, kept so that a repeated delivery is applied
    once."""

    __tablename__ = "gateway_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(50))
    payment_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Coupon(IdMixin, TimestampMixin, Base):
    """A discount code. Codes are stored upper-case and matched without regard to case."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("value > 0", name="value_positive"),
        # Money is stored in thousandths: 100000 is 100 %.
        CheckConstraint("kind <> 'percentage' OR value <= 100000", name="percentage_at_most_100"),
        CheckConstraint(
            "usage_limit IS NULL OR times_used <= usage_limit", name="within_usage_limit"
        ),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[CouponKind] = mapped_column(str_enum(CouponKind, "coupon_kind"))
    value: Mapped[Decimal] = mapped_column(Money)
    min_purchase: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    max_discount: Mapped[Decimal | None] = mapped_column(Money, default=None)
    min_tier: Mapped[Tier] = mapped_column(str_enum(Tier, "loyalty_tier"), default=Tier.BRONZE)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    usage_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    times_used: Mapped[int] = mapped_column(Integer, default=0)
    """Counted by one conditional update per order, so the limit holds under concurrency."""


class CouponUse(IdMixin, Base):
    __tablename__ = "coupon_uses"
    __table_args__ = (Index("ix_coupon_uses_coupon_id_user_id", "coupon_id", "user_id"),)

    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("coupons.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyEntry(IdMixin, Base):
    """One change of a buyer's points. Credits carry the date they expire."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (CheckConstraint("points <> 0", name="points_nonzero"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    kind: Mapped[PointsKind] = mapped_column(str_enum(PointsKind, "points_kind"))
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
