"""Control characters in text a client sends are 422, never a 500 from the database.

PostgreSQL refuses NUL in text, and a lone surrogate cannot be stored on either backend: every
case here answered 500 on PostgreSQL before text inputs shared `bazaar.text`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from bazaar.auth.roles import Role
from bazaar.sync.hlc import HLC, wall_clock_ms
from tests.auth_fixtures import TEST_PASSWORD, LoginAs
from tests.lending.conftest import API, Lending, days_ago

BAD = ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\ud800b"]


@pytest.fixture
async def lending(client: httpx.AsyncClient, login_as: LoginAs) -> Lending:
    return Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \ud800, as a client's JSON encoder would.
    content = None if body is None else json.dumps(body)
    return await client.request(
        method,
        url,
        content=content,
        params=params,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def assert_refused(answer: httpx.Response, loc: list[str]) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"]["code"] == "validation_error"
    assert [f["loc"] for f in body["error"]["details"]["fields"]] == [loc]
    # Where a pattern applies too, pydantic itself refuses a lone surrogate.
    message = body["error"]["details"]["fields"][0]["message"]
    assert "control characters" in message or "unicode string" in message
    assert body["request_id"] == answer.headers["X-Request-ID"]


@pytest.mark.parametrize("bad", BAD)
async def test_unauthenticated_auth_routes_refuse_control_characters(
    client: httpx.AsyncClient, bad: str
) -> None:
    signup = {"email": "new@test.bazaar", "password": TEST_PASSWORD, "full_name": bad}
    assert_refused(await send(client, "POST", f"{API}/auth/signup", signup), ["body", "full_name"])
    login = {"email": f"{bad}@test.bazaar", "password": "whatever it is"}
    assert_refused(await send(client, "POST", f"{API}/auth/login", login), ["body", "email"])
    refresh = {"refresh_token": bad}
    assert_refused(
        await send(client, "POST", f"{API}/auth/refresh", refresh), ["body", "refresh_token"]
    )
    if "\ud800" not in bad:  # a form is UTF-8, which cannot carry a lone surrogate
        form = await client.post(
            f"{API}/auth/token", data={"username": f"{bad}@test.bazaar", "password": "x"}
        )
        assert_refused(form, ["body", "username"])
    signup_email = await send(
        client,
        "POST",
        f"{API}/auth/signup",
        {"email": f"{bad}@test.bazaar", "password": TEST_PASSWORD, "full_name": "A"},
    )
    assert signup_email.status_code == 422, signup_email.text


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
async def test_users_and_api_keys_refuse_control_characters(
    client: httpx.AsyncClient, login_as: LoginAs, bad: str
) -> None:
    admin = await login_as(Role.ADMIN)
    h = admin.headers
    if "\ud800" not in bad:  # a URL is UTF-8, which cannot carry a lone surrogate
        q = await send(client, "GET", f"{API}/users", None, h, {"q": bad})
        assert_refused(q, ["query", "q"])
    created = {"email": "staff@test.bazaar", "password": TEST_PASSWORD, "full_name": bad}
    assert_refused(
        await send(client, "POST", f"{API}/users", {**created, "role": "officer"}, h),
        ["body", "full_name"],
    )
    assert_refused(
        await send(client, "PUT", f"{API}/users/{admin.id}", {"full_name": bad}, h),
        ["body", "full_name"],
    )
    assert_refused(
        await send(client, "POST", f"{API}/api-keys", {"name": bad}, h), ["body", "name"]
    )


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
async def test_lending_refuses_control_characters(lending: Lending, bad: str) -> None:
    client, h = lending.client, lending.officer.headers
    customer = await lending.customer()
    new = {"full_name": "Asha Traders", "phone": "+91 98765 43210"}
    for field in ("full_name", "business_name", "address"):
        answer = await send(client, "POST", f"{API}/customers/", {**new, field: bad}, h)
        assert_refused(answer, ["body", field])
    answer = await send(client, "POST", f"{API}/customers/", {**new, "email": f"{bad}@x.in"}, h)
    assert_refused(answer, ["body", "email"])
    if "\ud800" not in bad:
        q = await send(client, "GET", f"{API}/customers/", None, h, {"q": bad})
        assert_refused(q, ["query", "q"])
    assert_refused(
        await send(
            client,
            "PUT",
            f"{API}/customers/{customer['id']}",
            {"version": 1, "full_name": bad},
            h,
        ),
        ["body", "full_name"],
    )
    draft = await lending.loan(customer["id"])
    terms = {
        "customer_id": customer["id"],
        "principal": "1000.00",
        "annual_rate": "12",
        "installments": 3,
        "expected_disbursement_date": days_ago(0),
    }
    assert_refused(
        await send(client, "POST", f"{API}/loans/", {**terms, "purpose": bad}, h),
        ["body", "purpose"],
    )
    assert_refused(
        await send(client, "PUT", f"{API}/loans/{draft['id']}", {"version": 1, "purpose": bad}, h),
        ["body", "purpose"],
    )

    loan = await lending.disbursed(disbursed_days_ago=10)
    payment = {"loan_id": loan["id"], "amount": "100.00", "paid_on": days_ago(1), "method": "cash"}
    for field in ("reference", "notes"):
        answer = await send(client, "POST", f"{API}/payments/", {**payment, field: bad}, h)
        assert_refused(answer, ["body", field])
    paid = await lending.pay(loan["id"], "100.00", days_ago(1))
    assert paid.status_code == 201, paid.text
    payment_url = f"{API}/payments/{paid.json()['id']}"
    assert_refused(await send(client, "PUT", payment_url, {"notes": bad}, h), ["body", "notes"])
    if "\ud800" not in bad:
        reversal = await send(
            client, "DELETE", payment_url, None, lending.admin.headers, {"reason": f"typo {bad}"}
        )
        assert_refused(reversal, ["query", "reason"])


async def test_multi_line_fields_take_tab_and_newline_and_names_do_not(lending: Lending) -> None:
    customer = await lending.customer(address="12 MG Road\nPune\t411001")
    assert customer["address"] == "12 MG Road\nPune\t411001"
    answer = await lending.client.post(
        f"{API}/customers/",
        json={"full_name": "Asha\tTraders", "phone": "+91 98765 43210"},
        headers=lending.officer.headers,
    )
    assert_refused(answer, ["body", "full_name"])


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
async def test_sync_refuses_control_characters(lending: Lending, bad: str) -> None:
    client, h = lending.client, lending.officer.headers
    customer = await lending.customer()
    loan_id = str(uuid.uuid4())
    item = {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "loan",
        "entity_id": loan_id,
        "op": "insert",
        "hlc": HLC(wall_clock_ms(), 0, "laptop-1").encode(),
        "changes": {
            "id": loan_id,
            "customer_id": customer["id"],
            "principal": "5000",
            "annual_rate": "12",
            "installments": 6,
            "expected_disbursement_date": days_ago(0),
            "purpose": bad,
        },
    }
    # A value is the entity's to check: that item alone is rejected, with the reason.
    answer = await send(client, "POST", f"{API}/sync/push", {"node_id": "n1", "items": [item]}, h)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert result["outcome"] == "rejected"
    assert "purpose" in result["reason"]
    # What identifies a mutation is never typed by a person: the push is refused.
    envelope = {**item, "entity_type": f"lo{bad}an"}
    answer = await send(
        client, "POST", f"{API}/sync/push", {"node_id": "n1", "items": [envelope]}, h
    )
    assert_refused(answer, ["body", "items"])
    resolve = {"choice": "merged", "values": {"full_name": bad}}
    answer = await send(
        client,
        "POST",
        f"{API}/sync/conflicts/{uuid.uuid4()}/resolve",
        resolve,
        lending.admin.headers,
    )
    assert_refused(answer, ["body", "values"])
