"""Every paged list route takes the same `limit` and `offset` and answers the same page shape."""

from __future__ import annotations

import httpx
import pytest

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoginAs
from tests.lending.conftest import API, Lending


async def paged_routes(lending: Lending) -> list[str]:
    customer = await lending.customer()
    loan = await lending.loan(customer["id"])
    return [
        f"{API}/users",
        f"{API}/customers/",
        f"{API}/loans/",
        f"{API}/loans/customer/{customer['id']}",
        f"{API}/loans/status/draft",
        f"{API}/payments/",
        f"{API}/payments/loan/{loan['id']}",
        f"{API}/api-keys",
        f"{API}/sync/peers",
        f"{API}/sync/conflicts",
        f"{API}/crm/connections",
    ]


@pytest.fixture
async def lending(client: httpx.AsyncClient, login_as: LoginAs) -> Lending:
    return Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("offset", "9223372036854775808"),
        ("offset", "9223372036854775807"),
        ("offset", "1000000001"),
        ("offset", "-1"),
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "9223372036854775808"),
    ],
)
async def test_out_of_range_paging_is_422_on_every_list_route(
    lending: Lending, name: str, value: str
) -> None:
    for route in await paged_routes(lending):
        answer = await lending.client.get(
            route, params={name: value}, headers=lending.admin.headers
        )
        assert answer.status_code == 422, (route, answer.text)
        body = answer.json()
        assert body["error"]["code"] == "validation_error"
        assert [f["loc"] for f in body["error"]["details"]["fields"]] == [["query", name]]
        assert body["request_id"]


async def test_every_list_route_answers_a_page_within_the_bounds(lending: Lending) -> None:
    for route in await paged_routes(lending):
        last = await lending.client.get(
            route, params={"limit": 200, "offset": 1_000_000_000}, headers=lending.admin.headers
        )
        assert last.status_code == 200, (route, last.text)
        assert last.json()["items"] == []
        assert last.json()["limit"] == 200
        assert last.json()["offset"] == 1_000_000_000
        first = await lending.client.get(route, headers=lending.admin.headers)
        assert first.status_code == 200, (route, first.text)
        page = first.json()
        assert set(page) == {"items", "total", "limit", "offset"}
        assert (page["limit"], page["offset"]) == (50, 0)
        assert page["total"] == len(page["items"])
