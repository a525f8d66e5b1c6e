"""Every lending list shows a caller only what they may read: another officer and another
borrower see nothing of a portfolio, whatever filter they name; lists under a parent they may
not read answer 404."""

from __future__ import annotations

from typing import Any

from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.lending.conftest import API, Lending, today

from bazaar.auth.roles import Role


async def item_ids(lending: Lending, user: LoggedInUser, path: str, **params: str) -> list[Any]:
    answer = await lending.client.get(f"{API}{path}", params=params, headers=user.headers)
    assert answer.status_code == 200, (path, answer.text)
    return [item["id"] for item in answer.json()["items"]]


async def test_no_list_shows_another_portfolio_through_any_filter(
    lending: Lending, login_as: LoginAs
) -> None:
    borrower = await login_as(Role.CUSTOMER)
    customer = await lending.customer(user_id=str(borrower.id))
    loan = await lending.loan(customer["id"])
    for command, user in (("submit", lending.officer), ("approve", lending.admin)):
        assert (await lending.command(loan["id"], command, user)).status_code == 200
    disbursed = await lending.command(
        loan["id"], "disburse", lending.admin, disbursed_on=today().isoformat()
    )
    assert disbursed.status_code == 200, disbursed.text
    paid = await lending.pay(loan["id"], "20.00", today().isoformat())
    assert paid.status_code == 201, paid.text
    lists: list[tuple[str, dict[str, str]]] = [
        ("/customers/", {}),
        ("/customers/", {"q": "Asha"}),
        ("/loans/", {}),
        ("/loans/", {"officer_id": str(lending.officer.id)}),
        ("/loans/", {"customer_id": customer["id"]}),
        ("/loans/status/disbursed", {}),
        ("/payments/", {}),
        ("/payments/", {"loan_id": loan["id"]}),
    ]
    under_parents = [f"/loans/customer/{customer['id']}", f"/payments/loan/{loan['id']}"]

    for user in (lending.officer, borrower, lending.admin):
        for path, params in lists:
            assert len(await item_ids(lending, user, path, **params)) == 1, (user.role, path)
        for path in under_parents:
            assert len(await item_ids(lending, user, path)) == 1, (user.role, path)
    for user in (await login_as(Role.OFFICER), await login_as(Role.CUSTOMER)):
        for path, params in lists:
            assert await item_ids(lending, user, path, **params) == [], (user.role, path, params)
        for path in under_parents:
            answer = await lending.client.get(f"{API}{path}", headers=user.headers)
            assert answer.status_code == 404, (user.role, path)
