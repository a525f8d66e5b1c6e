"""A demo shop: a warehouse and two stores, products with variants and stock (one running
low, one sold out, one still a draft), coupons, and the buyer `buyer@demo.bazaar` with points
enough for the silver tier. Built through the services, so the data obeys the API's rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import service as auth_service
from bazaar.auth.demo import DEMO_PASSWORD
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.commerce import inventory, loyalty, service
from bazaar.commerce.loyalty_schemas import CouponCreate
from bazaar.commerce.models import LoyaltyEntry, Product, Variant
from bazaar.commerce.rules import CouponKind, LocationKind, PointsKind, ProductStatus, Shop, Tier
from bazaar.commerce.schemas import LocationCreate, ProductCreate, StockReceive, VariantCreate
from bazaar.config import get_settings
from bazaar.stamps import utcnow

BUYER = ("buyer@demo.bazaar", "Bina Buyer")
LOCATIONS = (
    ("Pune warehouse", LocationKind.WAREHOUSE, "Plot 7, MIDC Bhosari, Pune 411026", 10),
    ("Koregaon Park store", LocationKind.STORE, "Lane 5, Koregaon Park, Pune 411001", 20),
    ("Baner store", LocationKind.STORE, "Baner Road, Pune 411045", 30),
)
# (name, category, brand, price, rating, reviews, status, description,
#  variants as (sku, color, size, price override, units per location))
CATALOG: tuple[
    tuple[
        str,
        str,
        str,
        str,
        float,
        int,
        ProductStatus,
        str,
        tuple[tuple[str, str | None, str | None, str | None, tuple[int, ...]], ...],
    ],
    ...,
] = (
    (
        "Aero 14 Laptop",
        "electronics",
        "Aero",
        "54999.00",
        4.5,
        128,
        ProductStatus.ACTIVE,
        "Light 14-inch laptop with 16 GB RAM and a full day of battery",
        (
            ("AERO14-SLV", "silver", None, None, (20, 3, 2)),
            ("AERO14-GRY", "grey", None, "55999.00", (8, 0, 1)),
        ),
    ),
    (
        "Handloom Cotton Saree",
        "apparel",
        "Priya Handlooms",
        "2499.00",
        4.8,
        56,
        ProductStatus.ACTIVE,
        "Hand-woven cotton saree from Maheshwar, with zari border",
        (
            ("SAREE-RED", "red", None, None, (12, 2, 0)),
            ("SAREE-BLU", "blue", None, None, (3, 0, 0)),
        ),
    ),
    (
        "Masala Chai Blend 250 g",
        "grocery",
        "Fatima Spices",
        "349.00",
        4.2,
        310,
        ProductStatus.ACTIVE,
        "Assam tea with cardamom, ginger and cinnamon",
        (("CHAI-250", None, "250g", None, (4, 0, 0)),),
    ),
    (
        "Teak Bookshelf",
        "furniture",
        "Joseph Woodworks",
        "18999.00",
        4.6,
        17,
        ProductStatus.ACTIVE,
        "Five-shelf bookshelf in solid teak, hand finished",
        (("SHELF-TEAK", "teak", "5-shelf", None, (0, 0, 0)),),
    ),
    (
        "Running Shoes",
        "footwear",
        "Stride",
        "3999.00",
        4.1,
        89,
        ProductStatus.ACTIVE,
        "Cushioned running shoes with a breathable mesh upper",
        (
            ("STRIDE-8", "black", "8", None, (15, 5, 5)),
            ("STRIDE-9", "black", "9", None, (15, 5, 5)),
            ("STRIDE-10", "black", "10", "4199.00", (10, 2, 2)),
        ),
    ),
    (
        "Aero 16 Laptop",
        "electronics",
        "Aero",
        "74999.00",
        0.0,
        0,
        ProductStatus.DRAFT,
        "Coming soon: 16-inch laptop with a dedicated graphics card",
        (("AERO16-SLV", "silver", None, None, (0, 0, 0)),),
    ),
)


COUPONS = (
    CouponCreate(
        code="SAVE10",
        description="10 % off, at most 500",
        kind=CouponKind.PERCENTAGE,
        value=Decimal(10),
        max_discount=Decimal(500),
    ),
    CouponCreate(
        code="FLAT100",
        description="100 off a cart of 1,000 or more",
        kind=CouponKind.FIXED,
        value=Decimal(100),
        min_purchase=Decimal(1000),
    ),
    CouponCreate(
        code="GOLD15",
        description="15 % off for gold members and above",
        kind=CouponKind.PERCENTAGE,
        value=Decimal(15),
        min_tier=Tier.GOLD,
    ),
)
BUYER_EARNED_POINTS = 2_400
"""Earned 60 days ago: silver (from 1,000 by default), with 24.00 to redeem."""


async def _buyer(session: AsyncSession, shop: Shop) -> None:
    email, full_name = BUYER
    user = await auth_service.find_user_by_email(session=session, email=email)
    if user is None:
        user = await auth_service.create_user(
            session=session,
            email=email,
            password=DEMO_PASSWORD,
            full_name=full_name,
            role=Role.CUSTOMER,
        )
    has_points = await session.scalar(
        select(func.count()).select_from(LoyaltyEntry).where(LoyaltyEntry.user_id == user.id)
    )
    if not has_points:
        await loyalty.credit(
            session=session,
            shop=shop,
            user_id=user.id,
            kind=PointsKind.EARNED,
            points=BUYER_EARNED_POINTS,
            reason="Orders before the demo",
            now=utcnow() - timedelta(days=60),
        )


async def _coupons(session: AsyncSession, shop: Shop) -> None:
    for coupon in COUPONS:
        if await loyalty.find_coupon(session=session, code=coupon.code) is None:
            await loyalty.create_coupon(session=session, shop=shop, data=coupon)


async def seed_demo(*, session: AsyncSession) -> list[str]:
    shop = Shop.from_settings(get_settings())
    await _buyer(session, shop)
    await _coupons(session, shop)
    buyer_line = (
        f"commerce: {BUYER[0]} (customer, password: {DEMO_PASSWORD}) shops, silver tier; "
        f"coupons {', '.join(c.code for c in COUPONS)}"
    )
    admin = await auth_service.find_user_by_email(session=session, email="admin@demo.bazaar")
    if admin is None:
        return ["commerce: demo admin missing, no shop seeded", buyer_line]
    if (await session.execute(select(func.count()).select_from(Product))).scalar_one():
        return ["commerce: demo shop already present", buyer_line]
    staff = Principal(user_id=admin.id, role=Role.ADMIN)
    locations = [
        await inventory.create_location(
            session=session,
            data=LocationCreate(name=name, kind=kind, address=address, priority=priority),
        )
        for name, kind, address, priority in LOCATIONS
    ]
    for name, category, brand, price, rating, reviews, status, text, variants in CATALOG:
        read = await service.create_product(
            session=session,
            shop=shop,
            data=ProductCreate(
                name=name,
                description=text,
                category=category,
                brand=brand,
                base_price=Decimal(price),
                status=status,
                attributes={"origin": "India"},
                variants=[
                    VariantCreate(
                        sku=sku,
                        color=color,
                        size=size,
                        price=None if override is None else Decimal(override),
                    )
                    for sku, color, size, override, _ in variants
                ],
            ),
        )
        product = await session.get_one(Product, read.id)
        product.rating, product.review_count = rating, reviews  # as reviews would have made them
        for sku, _, _, _, units in variants:
            variant_id = (
                await session.execute(select(Variant.id).where(Variant.sku == sku))
            ).scalar_one()
            for location, count in zip(locations, units, strict=True):
                if count:
                    await inventory.receive(
                        session=session,
                        principal=staff,
                        data=StockReceive(
                            variant_id=variant_id,
                            location_id=location.id,
                            quantity=count,
                            note="opening stock",
                        ),
                    )
    await session.flush()
    return [
        f"commerce: demo shop with {len(CATALOG)} products at {len(LOCATIONS)} locations",
        buyer_line,
    ]
