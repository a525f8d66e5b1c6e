"""The catalog as staff and buyers use it: products, variants, filters and search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoginAs
from tests.commerce.conftest import API, Shopkeeper


async def names(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    answer = await client.get(f"{API}/products", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()["items"]]


async def searched(client: httpx.AsyncClient, headers: dict[str, str], q: str) -> list[str]:
    answer = await client.get(f"{API}/products/search", params={"q": q}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    scores = [item["relevance"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert body["total"] == len(body["items"])
    return [item["name"] for item in body["items"]]


@pytest.fixture
async def catalog(shopkeeper: Shopkeeper) -> dict[str, dict[str, Any]]:
    where = await shopkeeper.location()
    made = {}
    for name, category, brand, price, units, extra in (
        ("Aero 14 Laptop", "electronics", "Aero", "54999.00", 20, {}),
        ("Laptop Sleeve", "accessories", "Stride", "999.00", 3, {}),
        ("Teak Bookshelf", "furniture", "Joseph Woodworks", "18999.00", 0, {}),
        ("Running Shoes", "footwear", "Stride", "3999.00", 8, {"description": "light laptop-free"}),
        ("Aero 16 Laptop", "electronics", "Aero", "74999.00", 0, {"status": "draft"}),
    ):
        sku = name.upper().replace(" ", "-")
        made[name] = await shopkeeper.product(
            name, skus=(sku,), category=category, brand=brand, base_price=price, **extra
        )
        if units:
            await shopkeeper.receive(made[name]["variants"][0]["id"], where["id"], units)
    return made


async def test_buyers_see_active_products_with_their_stock_status(
    client: httpx.AsyncClient, login_as: LoginAs, shopkeeper: Shopkeeper, catalog: dict[str, Any]
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    answer = await client.get(f"{API}/products", headers=buyer.headers)
    body = answer.json()
    status = {item["name"]: item["stock_status"] for item in body["items"]}
    assert body["total"] == 4
    assert status == {
        "Aero 14 Laptop": "in_stock",
        "Laptop Sleeve": "low_stock",
        "Teak Bookshelf": "out_of_stock",
        "Running Shoes": "in_stock",
    }
    draft = catalog["Aero 16 Laptop"]["id"]
    assert (await client.get(f"{API}/products/{draft}", headers=buyer.headers)).status_code == 404
    staff = shopkeeper.staff.headers
    assert (await client.get(f"{API}/products/{draft}", headers=staff)).status_code == 200
    assert len(await names(client, staff)) == 5


async def test_filters(
    client: httpx.AsyncClient, login_as: LoginAs, catalog: dict[str, Any]
) -> None:
    headers = (await login_as(Role.CUSTOMER)).headers
    assert await names(client, headers, brand="Stride") == ["Running Shoes", "Laptop Sleeve"]
    assert await names(client, headers, category="furniture") == ["Teak Bookshelf"]
    assert sorted(await names(client, headers, min_price="999.00", max_price="3999.00")) == [
        "Laptop Sleeve",
        "Running Shoes",
    ]
    assert "Teak Bookshelf" not in await names(client, headers, in_stock="true")
    assert await names(client, headers, in_stock="false") == ["Teak Bookshelf"]
    assert await names(client, headers, search="laptop", brand="Aero") == ["Aero 14 Laptop"]
    paged = await client.get(f"{API}/products", params={"limit": 1, "offset": 1}, headers=headers)
    assert (paged.json()["total"], len(paged.json()["items"])) == (4, 1)


async def test_search_forgives_typos_and_ranks_names_first(
    client: httpx.AsyncClient, login_as: LoginAs, catalog: dict[str, Any]
) -> None:
    headers = (await login_as(Role.CUSTOMER)).headers
    # "laptop" in a name outranks "laptop" in a description; the draft is not shown.
    found = await searched(client, headers, "laptop")
    assert set(found[:2]) == {"Aero 14 Laptop", "Laptop Sleeve"}
    assert found[2:] == ["Running Shoes"]
    assert await searched(client, headers, "lapotp") == await searched(client, headers, "laptop")
    assert await searched(client, headers, "lap") == found  # a prefix
    assert await searched(client, headers, "aero lapotp") == ["Aero 14 Laptop"]
    assert await searched(client, headers, "bookshelf teak") == ["Teak Bookshelf"]
    assert await searched(client, headers, "bookshelv") == ["Teak Bookshelf"]
    assert await searched(client, headers, "xylophone") == []
    assert await searched(client, headers, "!!!") == []


async def test_the_index_follows_a_renamed_product_in_the_same_request(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, catalog: dict[str, Any]
) -> None:
    staff = shopkeeper.staff.headers
    shelf = catalog["Teak Bookshelf"]["id"]
    renamed = await client.put(
        f"{API}/products/{shelf}", json={"name": "Teak Cabinet"}, headers=staff
    )
    assert renamed.status_code == 200, renamed.text
    assert await searched(client, staff, "cabinet") == ["Teak Cabinet"]
    assert await searched(client, staff, "bookshelf") == []


async def test_variants_prices_and_skus(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    staff = shopkeeper.staff.headers
    product = await shopkeeper.product("Shoes", skus=("SH-8",), base_price="3999.00")
    url = f"{API}/products/{product['id']}/variants"
    added = await client.post(
        url, json={"sku": "SH-9", "size": "9", "price": "4199.00"}, headers=staff
    )
    assert added.status_code == 201, added.text
    assert (added.json()["price"], added.json()["available"]) == ("4199.00", 0)
    taken = await client.post(url, json={"sku": "SH-9"}, headers=staff)
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "sku_taken")
    fine = await client.post(url, json={"sku": "SH-10", "price": "1.005"}, headers=staff)
    assert (fine.status_code, fine.json()["error"]["code"]) == (422, "invalid_price")
    dropped = await client.put(f"{url}/{added.json()['id']}", json={"price": None}, headers=staff)
    assert dropped.json()["price"] == "3999.00"
    buyer = await login_as(Role.CUSTOMER)
    refused = await client.post(url, json={"sku": "SH-11"}, headers=buyer.headers)
    assert refused.status_code == 403


async def test_inventory_per_location(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    warehouse = await shopkeeper.location("Warehouse", priority=1)
    store = await shopkeeper.location("Store", kind="store", address="MG Road, Pune", priority=2)
    product, variant = await shopkeeper.stocked(7, location=warehouse)
    await shopkeeper.receive(variant, store["id"], 2)
    buyer = await login_as(Role.CUSTOMER)
    answer = await client.get(f"{API}/products/inventory/{product['id']}", headers=buyer.headers)
    body = answer.json()
    assert [
        (lv["location"]["name"], lv["location"]["address"], lv["available"])
        for lv in body["levels"]
    ] == [
        ("Warehouse", "1 Dock Road, Pune", 7),
        ("Store", "MG Road, Pune", 2),
    ]
    assert (body["on_hand"], body["reserved"], body["available"]) == (9, 0, 9)
    missing = "01930000-0000-7000-8000-000000000099"
    assert (
        await client.get(f"{API}/products/inventory/{missing}", headers=buyer.headers)
    ).status_code == 404
