"""Request and response bodies of loyalty: tiers, a buyer's points and ledger, and coupons.

Points are whole numbers; money is a Decimal string in the shop's currency, as elsewhere in
commerce (commerce/schemas.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from bazaar.commerce.rules import CouponKind, PointsKind, Tier
from bazaar.commerce.schemas import Price, Read, Strict
from bazaar.scalars import AwareIsoDateTime
from bazaar.text import Line

MAX_POINTS = 100_000_000
CouponCode = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$", examples=["SAVE10"]),
    AfterValidator(str.upper),
]


class TierRead(BaseModel):
    tier: Tier
    min_points: int = Field(description="Points earned in the last 12 months that reach it")
    discount_percent: int


class TiersRead(BaseModel):
    tiers: list[TierRead]
    points_per_currency_unit: int = Field(description="Points that redeem for 1 currency unit")
    points_valid_days: int


class LoyaltyProfile(BaseModel):
    tier: Tier
    discount_percent: int
    tier_points: int = Field(description="Earned in the last 12 months")
    next_tier: Tier | None
    points_to_next_tier: int | None
    points_balance: int
    points_value: Decimal = Field(description="What the balance redeems for")
    currency: str
    lifetime_earned: int
    lifetime_redeemed: int
    points_expiring_soon: int
    expiring_by: datetime
    benefits: list[str]


class PointsAdjust(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "01900000-0000-7000-8000-000000000001",
                    "points": 500,
                    "reason": "Sorry for the late delivery",
                }
            ]
        },
    )

    user_id: uuid.UUID
    points: int = Field(ge=-MAX_POINTS, le=MAX_POINTS, description="Negative takes points away")
    reason: Annotated[Line, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _not_zero(self) -> Self:
        if self.points == 0:
            raise ValueError("points must not be 0")
        return self


class LedgerEntryRead(Read):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: PointsKind
    points: int
    reason: str
    expires_at: datetime | None
    created_at: datetime


class PointsRedeem(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"points": 500}]})

    points: int = Field(ge=0, le=MAX_POINTS, description="0 redeems none")


class CouponApply(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "SAVE10"}]})

    code: CouponCode


class CouponCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "SAVE10",
                    "description": "10 % off, at most 500",
                    "kind": "percentage",
                    "value": "10",
                    "max_discount": "500.00",
                }
            ]
        },
    )

    code: CouponCode
    description: Annotated[Line, Field(max_length=200)] = ""
    kind: CouponKind
    value: Price = Field(description="A percentage (at most 100) or an amount")
    min_purchase: Price = Decimal(0)
    max_discount: Price | None = None
    min_tier: Tier = Tier.BRONZE
    starts_at: AwareIsoDateTime | None = Field(default=None, description="Now when left out")
    ends_at: AwareIsoDateTime | None = None
    active: bool = True
    usage_limit: int | None = Field(default=None, ge=1, le=MAX_POINTS, description="Uses in all")
    per_customer_limit: int | None = Field(default=None, ge=1, le=1_000, description="Per buyer")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.value <= 0:
            raise ValueError("value must be more than 0")
        if self.kind is CouponKind.PERCENTAGE and self.value > 100:
            raise ValueError("a percentage is at most 100")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CouponRead(Read):
    id: uuid.UUID
    code: str
    description: str
    kind: CouponKind
    value: Decimal
    min_purchase: Decimal
    max_discount: Decimal | None
    min_tier: Tier
    starts_at: datetime
    ends_at: datetime | None
    active: bool
    usage_limit: int | None
    per_customer_limit: int | None
    times_used: int
