"""Request and response bodies of the catalog, stock and cart.

Money is a Decimal serialized as a string with the shop currency's places ("1499.00"); a
price with more places than the currency has is 422 `invalid_price`. Stock counts are whole
units.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bazaar.commerce.rules import LocationKind, MovementKind, ProductStatus, StockStatus, Tier
from bazaar.money import MAX_PLACES
from bazaar.scalars import DecimalString
from bazaar.text import Line, Lines, json_text, line

Price = Annotated[
    DecimalString,
    Field(ge=0, max_digits=12 + MAX_PLACES, decimal_places=MAX_PLACES, examples=["1499.00"]),
]
Name = Annotated[Line, Field(min_length=1, max_length=200)]
Label = Annotated[Line, Field(min_length=1, max_length=100)]
Short = Annotated[Line, Field(min_length=1, max_length=50)]
Sku = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["LAP-14-SLV"])]
ImageUrl = Annotated[
    str, Field(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$"), AfterValidator(line)
]
Attributes = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=50)], str | int | bool],
    Field(max_length=50, examples=[{"ram": "16 GB", "warranty_years": 1}]),
    AfterValidator(json_text),
]
MAX_LINE_UNITS = 10_000
Quantity = Annotated[int, Field(ge=1, le=MAX_LINE_UNITS)]
StockCount = Annotated[int, Field(ge=1, le=1_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VariantCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"sku": "LAP-14-SLV", "color": "silver", "size": "14in"}]},
    )

    sku: Sku
    color: Short | None = None
    size: Short | None = None
    price: Price | None = Field(default=None, description="Overrides the product's base price")


class VariantUpdate(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"price": "1399.00", "color": "grey"}]}
    )

    sku: Sku | None = None
    color: Short | None = None
    size: Short | None = None
    price: Price | None = None


class ProductFields(Strict):
    name: Name
    description: Annotated[Lines, Field(max_length=10_000)] = ""
    category: Label
    brand: Label
    base_price: Price
    images: list[ImageUrl] = Field(default_factory=list, max_length=20)
    attributes: Attributes = Field(default_factory=dict)
    status: ProductStatus = ProductStatus.DRAFT


class ProductCreate(ProductFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Aero 14 Laptop",
                    "description": "Light 14-inch laptop, 16 GB RAM",
                    "category": "electronics",
                    "brand": "Aero",
                    "base_price": "54999.00",
                    "images": ["https://img.demo.bazaar/aero14.jpg"],
                    "attributes": {"ram": "16 GB"},
                    "status": "active",
                    "variants": [{"sku": "AERO14-SLV", "color": "silver"}],
                }
            ]
        },
    )

    variants: list[VariantCreate] = Field(default_factory=list, max_length=100)


class ProductUpdate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"base_price": "52999.00", "status": "archived"}]},
    )

    name: Name | None = None
    description: Annotated[Lines, Field(max_length=10_000)] | None = None
    category: Label | None = None
    brand: Label | None = None
    base_price: Price | None = None
    images: list[ImageUrl] | None = Field(default=None, max_length=20)
    attributes: Attributes | None = None
    status: ProductStatus | None = None


class VariantRead(Read):
    id: uuid.UUID
    sku: str
    color: str | None
    size: str | None
    price: Decimal = Field(description="The override, or the product's base price")
    available: int


class ProductRead(Read):
    id: uuid.UUID
    name: str
    description: str
    category: str
    brand: str
    base_price: Decimal
    currency: str
    images: list[str]
    attributes: dict[str, Any]
    rating: float
    review_count: int
    status: ProductStatus
    available: int
    stock_status: StockStatus
    variants: list[VariantRead]
    relevance: float | None = Field(
        default=None, description="When searching: higher is a better match"
    )
    created_at: datetime
    updated_at: datetime


class LocationCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Pune warehouse",
                    "kind": "warehouse",
                    "address": "Plot 7, MIDC Bhosari, Pune 411026",
                    "priority": 10,
                }
            ]
        },
    )

    name: Name
    kind: LocationKind
    address: Annotated[Lines, Field(min_length=1, max_length=500)]
    priority: int = Field(default=100, ge=0, le=10_000)


class LocationRead(Read):
    id: uuid.UUID
    name: str
    kind: LocationKind
    address: str
    priority: int


_STOCK_TARGET = {
    "variant_id": "01930000-0000-7000-8000-000000000001",
    "location_id": "01930000-0000-7000-8000-000000000002",
}


class StockReceive(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{**_STOCK_TARGET, "quantity": 25, "note": "PO 4711"}]},
    )

    variant_id: uuid.UUID
    location_id: uuid.UUID
    quantity: StockCount
    note: Annotated[Line, Field(max_length=500)] | None = None


class StockAdjust(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{**_STOCK_TARGET, "delta": -2, "note": "damaged in transit"}]
        },
    )

    variant_id: uuid.UUID
    location_id: uuid.UUID
    delta: int = Field(
        ge=-1_000_000, le=1_000_000, description="Units added (or, negative, removed)"
    )
    note: Annotated[Line, Field(min_length=1, max_length=500)]


class StockLevelRead(BaseModel):
    location: LocationRead
    variant_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int


class InventoryRead(BaseModel):
    product_id: uuid.UUID
    levels: list[StockLevelRead]
    on_hand: int
    reserved: int
    available: int


class MovementRead(Read):
    id: uuid.UUID
    location_id: uuid.UUID
    variant_id: uuid.UUID
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    hold_id: uuid.UUID | None
    by_user_id: uuid.UUID | None
    note: str | None
    created_at: datetime


class CartItemAdd(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "product_id": "01930000-0000-7000-8000-000000000001",
                    "variant_id": "01930000-0000-7000-8000-000000000003",
                    "quantity": 2,
                }
            ]
        },
    )

    product_id: uuid.UUID
    variant_id: uuid.UUID
    quantity: Quantity = Field(description="Added to what the cart holds of the variant")


class CartItemSet(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity": 3}]})

    quantity: Quantity


class TotalsRead(BaseModel):
    """In the order they are applied (docs/commerce.md): each discount comes off what the one
    before left, tax is on the discounted amount, shipping is judged on the subtotal."""

    currency: str
    subtotal: Decimal
    coupon_discount: Decimal
    tier: Tier
    tier_discount: Decimal
    points_redeemed: int
    points_discount: Decimal
    tax: Decimal
    shipping: Decimal
    total: Decimal


class CheckoutLine(BaseModel):
    product_id: uuid.UUID
    variant_id: uuid.UUID
    name: str
    sku: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class CartItemRead(CheckoutLine):
    id: uuid.UUID
    reserved: int = Field(description="Units held for the cart; fewer once a hold expired")
    hold_expires_at: datetime | None


class CouponState(BaseModel):
    code: str
    applies: bool
    reason: str | None = Field(
        description="Why it does not apply now (CouponNotApplicable's reasons), else None"
    )


class CartRead(BaseModel):
    id: uuid.UUID | None = Field(description="None until the first item is added")
    items: list[CartItemRead]
    coupon: CouponState | None
    redeem_points: int = Field(description="Asked for; `totals.points_redeemed` is what applies")
    totals: TotalsRead


class CheckoutRead(BaseModel):
    id: uuid.UUID
    items: list[CheckoutLine]
    totals: TotalsRead
    expires_at: datetime = Field(description="The holds, and so this session, live until then")
