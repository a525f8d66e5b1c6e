"""Loyalty: a buyer's points on the append-only ledger, their tier, and the shop's coupons.

The balance is the sum of the buyer's ledger entries, less the points already due to expire
that the expiry job has not yet written off (`rules.points_to_expire`): a buyer never sees, or
redeems, points that are gone. The tier counts the points earned in the last 12 months.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bazaar.auth import service as auth_service
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.commerce import rules
from bazaar.commerce.errors import CouponCodeTaken, CouponNotApplicable, PointsExceedBalance
from bazaar.commerce.loyalty_schemas import (
    CouponCreate,
    LoyaltyProfile,
    PointsAdjust,
    TierRead,
    TiersRead,
)
from bazaar.commerce.models import Coupon, CouponUse, LoyaltyEntry
from bazaar.commerce.rules import (
    TIER_DISCOUNT_PERCENT,
    TIERS,
    CouponKind,
    CouponTerms,
    PointsKind,
    Shop,
    Tier,
)
from bazaar.commerce.service import check_price
from bazaar.money import in_currency
from bazaar.pagination import fetch_page

TIER_WINDOW = timedelta(days=365)
EXPIRING_SOON = timedelta(days=30)
"""How far ahead the profile warns of points expiring."""


@dataclass(frozen=True)
class Standing:
    """A buyer's points and tier at one moment."""

    balance: int
    tier: Tier
    tier_points: int
    lifetime_earned: int
    lifetime_redeemed: int
    expiring_soon: int
    expiring_by: datetime


def _sum(points: InstrumentedAttribute[int], condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, points), else_=0)), 0)


def _credits_by(by: datetime) -> ColumnElement[int]:
    return _sum(LoyaltyEntry.points, and_(LoyaltyEntry.points > 0, LoyaltyEntry.expires_at <= by))


_DEBITS = -_sum(LoyaltyEntry.points, LoyaltyEntry.points < 0)


async def standing(
    *, session: AsyncSession, shop: Shop, user_id: uuid.UUID, now: datetime
) -> Standing:
    """One aggregate over the buyer's ledger."""
    soon = now + EXPIRING_SOON
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(LoyaltyEntry.points), 0),
                _sum(
                    LoyaltyEntry.points,
                    and_(
                        LoyaltyEntry.kind == PointsKind.EARNED,
                        LoyaltyEntry.created_at >= now - TIER_WINDOW,
                    ),
                ),
                _sum(LoyaltyEntry.points, LoyaltyEntry.kind == PointsKind.EARNED),
                -_sum(LoyaltyEntry.points, LoyaltyEntry.kind == PointsKind.REDEEMED),
                _DEBITS,
                _credits_by(now),
                _credits_by(soon),
            ).where(LoyaltyEntry.user_id == user_id)
        )
    ).one()
    total, tier_points, earned, redeemed, debits, due_now, due_soon = (int(v) for v in row)
    expired = rules.points_to_expire(credits_expiring=due_now, debits=debits)
    expiring = rules.points_to_expire(credits_expiring=due_soon, debits=debits) - expired
    return Standing(
        balance=total - expired,
        tier=rules.tier_for(shop, max(tier_points, 0)),
        tier_points=max(tier_points, 0),
        lifetime_earned=earned,
        lifetime_redeemed=redeemed,
        expiring_soon=expiring,
        expiring_by=soon,
    )


def tiers_read(shop: Shop) -> TiersRead:
    thresholds = (0, *shop.tier_points)
    return TiersRead(
        tiers=[
            TierRead(tier=t, min_points=p, discount_percent=TIER_DISCOUNT_PERCENT[t])
            for t, p in zip(TIERS, thresholds, strict=True)
        ],
        points_per_currency_unit=shop.points_per_currency_unit,
        points_valid_days=shop.points_valid_days,
    )


def _benefits(shop: Shop, tier: Tier) -> list[str]:
    percent = TIER_DISCOUNT_PERCENT[tier]
    rate = f"{shop.points_per_currency_unit} points redeem for 1 {shop.currency}"
    if percent == 0:
        return [rate]
    return [f"{percent} % off every order", f"{tier.value.title()} coupons", rate]


async def profile(
    *, session: AsyncSession, principal: Principal, shop: Shop, now: datetime
) -> LoyaltyProfile:
    found = await standing(session=session, shop=shop, user_id=principal.user_id, now=now)
    position = TIERS.index(found.tier)
    above = TIERS[position + 1] if position + 1 < len(TIERS) else None
    to_next = None if above is None else shop.tier_points[position] - found.tier_points
    return LoyaltyProfile(
        tier=found.tier,
        discount_percent=TIER_DISCOUNT_PERCENT[found.tier],
        tier_points=found.tier_points,
        next_tier=above,
        points_to_next_tier=to_next,
        points_balance=found.balance,
        points_value=in_currency(rules.points_value(shop, found.balance), shop.currency),
        currency=shop.currency,
        lifetime_earned=found.lifetime_earned,
        lifetime_redeemed=found.lifetime_redeemed,
        points_expiring_soon=found.expiring_soon,
        expiring_by=found.expiring_by,
        benefits=_benefits(shop, found.tier),
    )


async def credit(
    *,
    session: AsyncSession,
    shop: Shop,
    user_id: uuid.UUID,
    kind: PointsKind,
    points: int,
    reason: str,
    now: datetime,
    by: uuid.UUID | None = None,
) -> LoyaltyEntry:
    """Writes one ledger entry; credits (positive points) expire after the shop's validity."""
    expires_at = now + timedelta(days=shop.points_valid_days) if points > 0 else None
    entry = LoyaltyEntry(
        user_id=user_id,
        kind=kind,
        points=points,
        reason=reason,
        expires_at=expires_at,
        created_by=by,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    return entry


async def adjust(
    *, session: AsyncSession, principal: Principal, shop: Shop, data: PointsAdjust, now: datetime
) -> LoyaltyEntry:
    """Staff goodwill or correction; a debit never takes the balance below zero."""
    await auth_service.get_user(session=session, user_id=data.user_id)
    if data.points < 0:
        balance = (
            await standing(session=session, shop=shop, user_id=data.user_id, now=now)
        ).balance
        if -data.points > balance:
            raise PointsExceedBalance(details={"balance": balance, "points": -data.points})
    return await credit(
        session=session,
        shop=shop,
        user_id=data.user_id,
        kind=PointsKind.ADJUSTED,
        points=data.points,
        reason=data.reason,
        now=now,
        by=principal.user_id,
    )


async def history(
    *, session: AsyncSession, principal: Principal, limit: int, offset: int
) -> tuple[list[LoyaltyEntry], int]:
    query = (
        select(LoyaltyEntry)
        .where(LoyaltyEntry.user_id == principal.user_id)
        .order_by(LoyaltyEntry.created_at.desc(), LoyaltyEntry.id.desc())
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def expire_due(*, session: AsyncSession, now: datetime) -> int:
    """Writes off every buyer's points that are due to expire; returns how many buyers."""
    due = (
        select(LoyaltyEntry.user_id, _credits_by(now).label("due"), _DEBITS.label("debits"))
        .where(or_(LoyaltyEntry.expires_at <= now, LoyaltyEntry.points < 0))
        .group_by(LoyaltyEntry.user_id)
    )
    written = 0
    for user_id, credits, debits in await session.execute(due):
        points = rules.points_to_expire(credits_expiring=int(credits), debits=int(debits))
        if points:
            session.add(
                LoyaltyEntry(
                    user_id=user_id,
                    kind=PointsKind.EXPIRED,
                    points=-points,
                    reason="Expired",
                    created_at=now,
                )
            )
            written += 1
    await session.flush()
    return written


async def terms_for(*, session: AsyncSession, coupon: Coupon, user_id: uuid.UUID) -> CouponTerms:
    """The coupon's terms for one buyer: with the uses left to them and overall."""
    buyer_left = None
    if coupon.per_customer_limit is not None:
        used = await session.scalar(
            select(func.count())
            .select_from(CouponUse)
            .where(CouponUse.coupon_id == coupon.id, CouponUse.user_id == user_id)
        )
        buyer_left = max(coupon.per_customer_limit - (used or 0), 0)
    overall_left = None if coupon.usage_limit is None else coupon.usage_limit - coupon.times_used
    return replace(terms(coupon), uses_left=overall_left, buyer_uses_left=buyer_left)


async def use_coupon(
    *, session: AsyncSession, code: str, user_id: uuid.UUID, order_id: uuid.UUID
) -> None:
    """Counts one use of the coupon by the order: one conditional update, so no number of
    concurrent orders takes it past its limit (422 `coupon_not_applicable` for the ones past
    it, whose order is then not placed). The buyer's own limit is checked against their uses;
    their concurrent orders are serialized by the lock on their cart's lines."""
    coupon = await find_coupon(session=session, code=code)
    if coupon is None:
        raise CouponNotApplicable.because("unknown", code=code)
    buyer = await terms_for(session=session, coupon=coupon, user_id=user_id)
    if buyer.buyer_uses_left == 0:
        raise CouponNotApplicable.because("customer_limit", code=code)
    counted = await session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            or_(Coupon.usage_limit.is_(None), Coupon.times_used < Coupon.usage_limit),
        )
        .values(times_used=Coupon.times_used + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount == 0:  # type: ignore[attr-defined]
        raise CouponNotApplicable.because("usage_limit", code=code)
    session.add(CouponUse(coupon_id=coupon.id, user_id=user_id, order_id=order_id))
    await session.flush()


def terms(coupon: Coupon) -> CouponTerms:
    return CouponTerms(
        kind=coupon.kind,
        value=coupon.value,
        min_purchase=coupon.min_purchase,
        max_discount=coupon.max_discount,
        min_tier=coupon.min_tier,
        starts_at=coupon.starts_at,
        ends_at=coupon.ends_at,
        active=coupon.active,
    )


async def find_coupon(*, session: AsyncSession, code: str) -> Coupon | None:
    found = await session.execute(select(Coupon).where(Coupon.code == code.upper()))
    return found.scalar_one_or_none()


async def create_coupon(*, session: AsyncSession, shop: Shop, data: CouponCreate) -> Coupon:
    check_price(shop, "min_purchase", data.min_purchase)
    check_price(shop, "max_discount", data.max_discount)
    if data.kind is CouponKind.FIXED:
        check_price(shop, "value", data.value)
    coupon = Coupon(**data.model_dump(exclude_none=True))
    session.add(coupon)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise CouponCodeTaken(details={"code": data.code}) from None
    return coupon


async def coupons(
    *,
    session: AsyncSession,
    shop: Shop,
    principal: Principal,
    now: datetime,
    limit: int,
    offset: int,
) -> tuple[list[Coupon], int]:
    """Every coupon for staff; for a buyer, those live now that their tier may use and that
    have uses left, overall and for them."""
    query = select(Coupon).order_by(Coupon.code)
    if principal.role is Role.CUSTOMER:
        tier = (await standing(session=session, shop=shop, user_id=principal.user_id, now=now)).tier
        query = query.where(
            Coupon.active.is_(True),
            Coupon.starts_at <= now,
            or_(Coupon.ends_at.is_(None), Coupon.ends_at > now),
            Coupon.min_tier.in_(TIERS[: TIERS.index(tier) + 1]),
            or_(Coupon.usage_limit.is_(None), Coupon.times_used < Coupon.usage_limit),
            or_(
                Coupon.per_customer_limit.is_(None),
                select(func.count())
                .select_from(CouponUse)
                .where(CouponUse.coupon_id == Coupon.id, CouponUse.user_id == principal.user_id)
                .scalar_subquery()
                < Coupon.per_customer_limit,
            ),
        )
    return await fetch_page(session, query, limit=limit, offset=offset)
