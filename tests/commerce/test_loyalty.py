"""Loyalty over HTTP: coupons on the cart, points on the ledger, tiers, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from bazaar.auth.roles import Role
from bazaar.commerce import loyalty
from bazaar.commerce.models import LoyaltyEntry
from bazaar.commerce.rules import PointsKind, Shop
from bazaar.stamps import utcnow
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.commerce.conftest import API, Shopkeeper, add_to_cart


async def earn(app: FastAPI, buyer: LoggedInUser, points: int, days_ago: float = 0) -> None:
    """Points as an order credits them (orders call loyalty.credit), `days_ago`."""
    shop = Shop.from_settings(app.state.runtime.settings)
    async with app.state.runtime.db.sessionmaker() as session:
        await loyalty.credit(
            session=session,
            shop=shop,
            user_id=buyer.id,
            kind=PointsKind.EARNED,
            points=points,
            reason="Order",
            now=utcnow() - timedelta(days=days_ago),
        )
        await session.commit()


async def ledger_sum(app: FastAPI, buyer: LoggedInUser) -> int:
    async with app.state.runtime.db.sessionmaker() as session:
        total = await session.scalar(
            select(func.sum(LoyaltyEntry.points)).where(LoyaltyEntry.user_id == buyer.id)
        )
        return int(total or 0)


async def get(client: httpx.AsyncClient, who: LoggedInUser, path: str) -> Any:
    answer = await client.get(f"{API}{path}", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def post(
    client: httpx.AsyncClient, who: LoggedInUser, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{API}{path}", json=body, headers=who.headers)


async def test_a_coupon_comes_off_the_cart_and_checkout_refuses_one_that_stopped_applying(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    body = {"code": "save10", "kind": "percentage", "value": "10", "min_purchase": "500.00"}
    made = await shopkeeper.post("/loyalty/coupons", body)
    assert made["code"] == "SAVE10"
    assert (await shopkeeper.post("/loyalty/coupons", body, status=409))["error"]["code"] == (
        "coupon_code_taken"
    )
    product, variant = await shopkeeper.stocked(10, base_price="300.00")
    buyer = await login_as(Role.CUSTOMER)
    await add_to_cart(client, buyer, product, variant, 2)

    applied = await post(client, buyer, "/loyalty/apply-coupon", {"code": "Save10"})
    assert applied.status_code == 200, applied.text
    cart = applied.json()
    assert cart["coupon"] == {"code": "SAVE10", "applies": True, "reason": None}
    assert (cart["totals"]["coupon_discount"], cart["totals"]["total"]) == ("60.00", "583.20")

    [line] = cart["items"]
    smaller = await client.put(
        f"{API}/cart/items/{line['id']}", json={"quantity": 1}, headers=buyer.headers
    )
    assert smaller.json()["coupon"] == {
        "code": "SAVE10",
        "applies": False,
        "reason": "min_purchase",
    }
    assert smaller.json()["totals"]["coupon_discount"] == "0.00"
    refused = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["reason"] == "min_purchase"

    removed = await client.delete(f"{API}/loyalty/apply-coupon", headers=buyer.headers)
    assert removed.json()["coupon"] is None
    session = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert session.status_code == 201, session.text
    assert session.json()["totals"]["total"] == "374.00"  # 300 + 24 tax + 50 shipping


async def test_each_reason_a_coupon_does_not_apply_is_told(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    now = utcnow()
    coupons: list[dict[str, Any]] = [
        {"code": "GOLDONLY", "min_tier": "gold"},
        {"code": "LATER", "starts_at": (now + timedelta(days=1)).isoformat()},
        {
            "code": "GONE",
            "starts_at": (now - timedelta(days=2)).isoformat(),
            "ends_at": (now - timedelta(days=1)).isoformat(),
        },
        {"code": "OFF", "active": False},
        {"code": "BIGCART", "min_purchase": "5000.00"},
    ]
    for fields in coupons:
        await shopkeeper.post("/loyalty/coupons", {"kind": "fixed", "value": "50.00", **fields})
    product, variant = await shopkeeper.stocked(10)
    buyer = await login_as(Role.CUSTOMER)

    empty = await post(client, buyer, "/loyalty/apply-coupon", {"code": "BIGCART"})
    assert (empty.status_code, empty.json()["error"]["code"]) == (409, "cart_empty")
    await add_to_cart(client, buyer, product, variant, 1)
    reasons = {}
    for code in ("GOLDONLY", "LATER", "GONE", "OFF", "BIGCART", "NOSUCH"):
        answer = await post(client, buyer, "/loyalty/apply-coupon", {"code": code})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "coupon_not_applicable"
        reasons[code] = answer.json()["error"]["details"]["reason"]
    assert reasons == {
        "GOLDONLY": "tier",
        "LATER": "not_started",
        "GONE": "expired",
        "OFF": "inactive",
        "BIGCART": "min_purchase",
        "NOSUCH": "unknown",
    }
    # A buyer is offered only what is live for their tier; staff see every coupon.
    assert [c["code"] for c in (await get(client, buyer, "/loyalty/coupons"))["items"]] == [
        "BIGCART"
    ]
    every = (await get(client, shopkeeper.staff, "/loyalty/coupons"))["items"]
    assert len(every) == len(coupons)
    await earn(app, buyer, 5_000)
    offered = [c["code"] for c in (await get(client, buyer, "/loyalty/coupons"))["items"]]
    assert offered == ["BIGCART", "GOLDONLY"]


async def test_points_redeem_within_the_balance_and_the_cart(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(10, base_price="30.00")
    buyer, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    goodwill = {"user_id": str(buyer.id), "points": 5_000, "reason": "Late delivery"}
    entry = await shopkeeper.post("/loyalty/adjustments", goodwill)
    assert (entry["kind"], entry["points"]) == ("adjusted", 5_000)
    too_much = {**goodwill, "points": -5_001, "reason": "Correction"}
    assert (await shopkeeper.post("/loyalty/adjustments", too_much, status=422))["error"][
        "code"
    ] == "points_exceed_balance"

    profile = await get(client, buyer, "/loyalty/profile")
    assert (profile["points_balance"], profile["points_value"]) == (5_000, "50.00")
    assert profile["tier"] == "bronze"  # goodwill is not earned: the tier does not move
    await add_to_cart(client, buyer, product, variant, 1)

    over_balance = await post(client, buyer, "/loyalty/redeem-points", {"points": 5_001})
    assert over_balance.json()["error"]["details"] == {"balance": 5_000, "points": 5_001}
    over_cart = await post(client, buyer, "/loyalty/redeem-points", {"points": 3_001})
    assert over_cart.json()["error"]["details"] == {"max_points": 3_000, "points": 3_001}
    redeemed = await post(client, buyer, "/loyalty/redeem-points", {"points": 2_000})
    totals = redeemed.json()["totals"]
    assert (totals["points_redeemed"], totals["points_discount"]) == (2_000, "20.00")
    assert totals["total"] == "60.80"  # 30 - 20 = 10, + 0.80 tax, + 50 shipping
    session = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert session.json()["totals"]["points_redeemed"] == 2_000
    # Redeeming on the cart spends nothing yet: the order does.
    assert (await get(client, buyer, "/loyalty/profile"))["points_balance"] == 5_000

    assert (await get(client, buyer, "/loyalty/ledger"))["total"] == 1
    assert (await get(client, other, "/loyalty/ledger"))["total"] == 0
    assert (await get(client, other, "/loyalty/profile"))["points_balance"] == 0


async def test_tiers_count_the_last_twelve_months_and_discount_the_cart(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    tiers = await get(client, shopkeeper.staff, "/loyalty/tiers")
    assert [(t["tier"], t["min_points"], t["discount_percent"]) for t in tiers["tiers"]] == [
        ("bronze", 0, 0),
        ("silver", 1_000, 5),
        ("gold", 5_000, 10),
        ("platinum", 15_000, 15),
    ]
    buyer = await login_as(Role.CUSTOMER)
    await earn(app, buyer, 20_000, days_ago=400)  # long ago: expired, and outside the window
    await earn(app, buyer, 4_000, days_ago=100)
    profile = await get(client, buyer, "/loyalty/profile")
    assert (profile["tier"], profile["tier_points"], profile["points_to_next_tier"]) == (
        "silver",
        4_000,
        1_000,
    )
    assert profile["points_balance"] == 4_000
    assert profile["lifetime_earned"] == 24_000

    await earn(app, buyer, 1_000)
    product, variant = await shopkeeper.stocked(5, base_price="1000.00")
    cart = (await add_to_cart(client, buyer, product, variant, 1)).json()
    assert (cart["totals"]["tier"], cart["totals"]["tier_discount"]) == ("gold", "100.00")


async def test_points_expire_a_year_on_and_spending_uses_the_oldest_first(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    await earn(app, buyer, 300, days_ago=370)  # expired 5 days ago
    await earn(app, buyer, 500, days_ago=350)  # expires in 15 days
    await earn(app, buyer, 700, days_ago=10)
    spend = {"user_id": str(buyer.id), "points": -200, "reason": "Correction"}
    await shopkeeper.post("/loyalty/adjustments", spend)

    profile = await get(client, buyer, "/loyalty/profile")
    # The 200 spent came out of the oldest 300: 100 of them expired; the 500 expire soon.
    assert profile["points_balance"] == 1_500 - 200 - 100
    assert profile["points_expiring_soon"] == 500
    assert await ledger_sum(app, buyer) == 1_300  # the expiry is not written yet

    async with app.state.runtime.db.sessionmaker() as session:
        assert await loyalty.expire_due(session=session, now=utcnow()) == 1
        await session.commit()
    assert await ledger_sum(app, buyer) == 1_200
    assert (await get(client, buyer, "/loyalty/profile"))["points_balance"] == 1_200
    async with app.state.runtime.db.sessionmaker() as session:
        assert await loyalty.expire_due(session=session, now=utcnow()) == 0  # once only
