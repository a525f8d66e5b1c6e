"""`bazaar seed --demo` opens a shop the demo buyer can use at once."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from bazaar.auth.demo import DEMO_PASSWORD
from bazaar.demo import seed_demo
from tests.commerce.conftest import API


async def test_the_demo_buyer_finds_and_holds_a_product(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await seed_demo(app.state.runtime)
    await seed_demo(app.state.runtime)  # a second run adds nothing
    login = await client.post(
        f"{API}/auth/login", json={"email": "buyer@demo.bazaar", "password": DEMO_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    shown = (await client.get(f"{API}/products", headers=headers)).json()
    statuses = {item["name"]: item["stock_status"] for item in shown["items"]}
    assert shown["total"] == 5  # the draft is not shown
    assert statuses["Teak Bookshelf"] == "out_of_stock"
    assert statuses["Masala Chai Blend 250 g"] == "low_stock"
    [laptop] = (
        await client.get(f"{API}/products/search", params={"q": "lapotp 14"}, headers=headers)
    ).json()["items"]
    stock = (await client.get(f"{API}/products/inventory/{laptop['id']}", headers=headers)).json()
    assert {level["location"]["kind"] for level in stock["levels"]} == {"warehouse", "store"}
    silver = next(v for v in laptop["variants"] if v["sku"] == "AERO14-SLV")
    body = {"product_id": laptop["id"], "variant_id": silver["id"], "quantity": 2}
    held = await client.post(f"{API}/cart/items", json=body, headers=headers)
    assert held.status_code == 201, held.text
    totals = held.json()["totals"]
    # 109998.00, less the silver tier's 5 % (5499.90), + 8 % tax, free shipping.
    assert (totals["tier"], totals["total"]) == ("silver", "112857.95")
    offered = (await client.get(f"{API}/loyalty/coupons", headers=headers)).json()["items"]
    assert [c["code"] for c in offered] == ["FLAT100", "SAVE10"]  # GOLD15 is for gold members
    body = {"code": "SAVE10"}
    totals = (await client.post(f"{API}/loyalty/apply-coupon", json=body, headers=headers)).json()[
        "totals"
    ]
    assert totals["coupon_discount"] == "500.00"  # 10 %, at most 500
    body = {"points": 2_400}
    totals = (await client.post(f"{API}/loyalty/redeem-points", json=body, headers=headers)).json()[
        "totals"
    ]
    assert (totals["points_discount"], totals["total"]) == ("24.00", "112319.03")
