"""Loyalty over HTTP: tiers, a buyer's points, coupons, and applying both to the cart."""

from __future__ import annotations

from fastapi import APIRouter

from bazaar.auth.dependencies import AdminOnly
from bazaar.auth.errors import UserNotFound
from bazaar.commerce import cart, loyalty
from bazaar.commerce.dependencies import Buyer, CatalogReader, ShopDep
from bazaar.commerce.errors import (
    CartEmpty,
    CouponCodeTaken,
    CouponNotApplicable,
    InvalidPrice,
    PointsExceedBalance,
    PointsExceedTotal,
)
from bazaar.commerce.loyalty_schemas import (
    CouponApply,
    CouponCreate,
    CouponRead,
    LedgerEntryRead,
    LoyaltyProfile,
    PointsAdjust,
    PointsRedeem,
    TiersRead,
)
from bazaar.commerce.schemas import CartRead
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Page, Paging
from bazaar.routing import Route
from bazaar.stamps import utcnow

router = APIRouter(prefix="/loyalty", route_class=Route, tags=["loyalty"])


@router.get("/tiers")
async def tiers(principal: CatalogReader, shop: ShopDep) -> TiersRead:
    """The tiers, the points earned in the last 12 months that reach each, and their discount."""
    return loyalty.tiers_read(shop)


@router.get("/profile")
async def profile(session: SessionDep, principal: Buyer, shop: ShopDep) -> LoyaltyProfile:
    """The caller's tier, points balance (less points already due to expire), lifetime
    figures and the points that expire in the next 30 days."""
    return await loyalty.profile(session=session, principal=principal, shop=shop, now=utcnow())


@router.get("/ledger")
async def ledger(session: SessionDep, principal: Buyer, paging: Paging) -> Page[LedgerEntryRead]:
    """Every change of the caller's points, newest first; the balance is their sum."""
    entries, total = await loyalty.history(
        session=session, principal=principal, limit=paging.limit, offset=paging.offset
    )
    return paging.of([LedgerEntryRead.model_validate(e) for e in entries], total)


@router.post(
    "/adjustments",
    status_code=201,
    responses=error_responses(UserNotFound, PointsExceedBalance),
)
async def adjust(
    body: PointsAdjust, session: SessionDep, principal: AdminOnly, shop: ShopDep
) -> LedgerEntryRead:
    """Adds (goodwill) or takes away (correction) a buyer's points; never below zero."""
    entry = await loyalty.adjust(
        session=session, principal=principal, shop=shop, data=body, now=utcnow()
    )
    return LedgerEntryRead.model_validate(entry)


@router.get("/coupons")
async def coupons(
    session: SessionDep, principal: CatalogReader, shop: ShopDep, paging: Paging
) -> Page[CouponRead]:
    """For a buyer, the coupons live now that their tier may use (the cart may still need to
    reach a coupon's minimum purchase); for staff, every coupon. By code."""
    found, total = await loyalty.coupons(
        session=session,
        shop=shop,
        principal=principal,
        now=utcnow(),
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of([CouponRead.model_validate(c) for c in found], total)


@router.post("/coupons", status_code=201, responses=error_responses(CouponCodeTaken, InvalidPrice))
async def create_coupon(
    body: CouponCreate, session: SessionDep, principal: AdminOnly, shop: ShopDep
) -> CouponRead:
    """A percentage or fixed discount, with its minimum purchase, cap, tier and window."""
    coupon = await loyalty.create_coupon(session=session, shop=shop, data=body)
    return CouponRead.model_validate(coupon)


@router.post("/apply-coupon", responses=error_responses(CartEmpty, CouponNotApplicable))
async def apply_coupon(
    body: CouponApply, session: SessionDep, principal: Buyer, shop: ShopDep
) -> CartRead:
    """Puts the coupon on the caller's cart; 422 `coupon_not_applicable` says why it cannot."""
    return await cart.apply_coupon(session=session, principal=principal, shop=shop, code=body.code)


@router.delete("/apply-coupon")
async def remove_coupon(session: SessionDep, principal: Buyer, shop: ShopDep) -> CartRead:
    """Takes the coupon off the caller's cart."""
    return await cart.remove_coupon(session=session, principal=principal, shop=shop)


@router.post(
    "/redeem-points",
    responses=error_responses(CartEmpty, PointsExceedBalance, PointsExceedTotal),
)
async def redeem_points(
    body: PointsRedeem, session: SessionDep, principal: Buyer, shop: ShopDep
) -> CartRead:
    """Redeems points against the caller's cart at the shop's rate (100 points = 1 currency
    unit by default); at most the balance and what the cart costs after its other discounts.
    0 redeems none. The points leave the balance only when an order is placed."""
    return await cart.redeem_points(
        session=session, principal=principal, shop=shop, points=body.points
    )
