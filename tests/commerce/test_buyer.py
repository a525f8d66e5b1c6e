"""The buyer's profile, saved addresses and payment methods: their own, one default each,
and never a card number."""

from __future__ import annotations

from typing import Any

import httpx

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.commerce.conftest import API
from tests.commerce.ordering import ADDRESS

PAN = "4242424242424242"


async def save(
    client: httpx.AsyncClient, buyer: LoggedInUser, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{API}/buyer/{path}", json=body, headers=buyer.headers)


async def listed(client: httpx.AsyncClient, buyer: LoggedInUser, path: str) -> list[Any]:
    answer = await client.get(f"{API}/buyer/{path}", headers=buyer.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_one_default_address_which_moves_and_survives_deletion(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    buyer, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    home = (await save(client, buyer, "addresses", {**ADDRESS, "label": "Home"})).json()
    assert home["is_default"] is True  # the first one
    work = await save(client, buyer, "addresses", {**ADDRESS, "label": "Work", "is_default": True})
    assert work.status_code == 201, work.text
    shown = await listed(client, buyer, "addresses")
    assert [(a["label"], a["is_default"]) for a in shown] == [("Work", True), ("Home", False)]
    assert shown[1]["address"]["city"] == "Pune"

    assert await listed(client, other, "addresses") == []
    foreign = await client.delete(f"{API}/buyer/addresses/{home['id']}", headers=other.headers)
    assert foreign.status_code == 404
    gone = await client.delete(f"{API}/buyer/addresses/{work.json()['id']}", headers=buyer.headers)
    assert gone.status_code == 204
    assert [(a["label"], a["is_default"]) for a in await listed(client, buyer, "addresses")] == [
        ("Home", True)
    ]


async def test_a_card_is_kept_as_its_token_and_a_card_number_is_refused(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    card = {"method": "card", "token": "tok_visa", "last4": "4242", "brand": "visa"}
    saved = (await save(client, buyer, "payment-methods", {"method": card})).json()
    assert (saved["label"], saved["token"], saved["is_default"]) == (
        "visa •••• 4242",
        "tok_visa",
        True,
    )
    upi = {"method": {"method": "upi", "upi_id": "bina@okbank"}, "is_default": True}
    masked = (await save(client, buyer, "payment-methods", upi)).json()
    assert (masked["label"], masked["token"]) == ("upi b***@okbank", None)

    for refused in (
        {"method": {**card, "token": PAN}},
        {"method": {**card, "card_number": PAN}},
        {"method": {**card, "last4": PAN}},
    ):
        answer = await save(client, buyer, "payment-methods", refused)
        assert answer.status_code == 422
        assert PAN not in answer.text
    assert [m["label"] for m in await listed(client, buyer, "payment-methods")] == [
        "upi b***@okbank",
        "visa •••• 4242",
    ]


async def test_the_buyer_reads_and_changes_their_profile(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    changed = await client.put(
        f"{API}/users/profile",
        json={"full_name": "Bina B.", "phone": "+91 98200 11111"},
        headers=buyer.headers,
    )
    assert changed.status_code == 200, changed.text
    profile = (await client.get(f"{API}/users/profile", headers=buyer.headers)).json()
    assert (profile["full_name"], profile["phone"], profile["email"]) == (
        "Bina B.",
        "+91 98200 11111",
        buyer.email,
    )
    staff_field = await client.put(
        f"{API}/users/profile", json={"role": "admin"}, headers=buyer.headers
    )
    assert staff_field.status_code == 422
