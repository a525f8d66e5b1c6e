"""Amounts and rates are canonical decimal strings, dates ISO strings, booleans booleans: what
merely converts to one (a JSON number, "1e2", `0` as a date or a flag) is 422."""

from __future__ import annotations

import httpx
import pytest

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoginAs
from tests.lending.conftest import API, Lending, days_ago

# Raw JSON, so that numbers reach the server as a client wrote them.
NOT_DECIMAL_STRINGS = [
    '"1_0"',
    '"\\u0661\\u0660"',  # Arabic-Indic digits ten
    '"1e2"',
    '"1E-2"',
    '" 10"',
    '"10 "',
    '"+10"',
    '"-0"',
    '"010"',
    '"10."',
    '".5"',
    '"NaN"',
    '"Infinity"',
    "10",
    "10.0",
    "1.0000000000000000001",
    "true",
]


@pytest.fixture
async def lending(client: httpx.AsyncClient, login_as: LoginAs) -> Lending:
    return Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))


async def post_raw(
    client: httpx.AsyncClient, url: str, fields: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    """POST a JSON object whose values are given as raw JSON text."""
    content = "{" + ", ".join(f'"{name}": {raw}' for name, raw in fields.items()) + "}"
    return await client.post(
        url, content=content, headers={**headers, "Content-Type": "application/json"}
    )


def assert_invalid(answer: httpx.Response, loc: list[str]) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"]["code"] == "validation_error"
    assert loc in [f["loc"] for f in body["error"]["details"]["fields"]], body
    assert body["request_id"]


def terms(customer_id: str, **raw: str) -> dict[str, str]:
    return {
        "customer_id": f'"{customer_id}"',
        "principal": '"12000.00"',
        "annual_rate": '"12"',
        "installments": "12",
        "expected_disbursement_date": f'"{days_ago(0)}"',
        **raw,
    }


@pytest.mark.parametrize("raw", NOT_DECIMAL_STRINGS)
async def test_amounts_and_rates_must_be_canonical_decimal_strings(
    lending: Lending, raw: str
) -> None:
    customer = await lending.customer()
    loan = await lending.disbursed(disbursed_days_ago=5)
    h = lending.officer.headers
    for field in ("principal", "annual_rate"):
        for route in ("loans/", "loans/schedule-preview"):
            answer = await post_raw(
                lending.client, f"{API}/{route}", terms(customer["id"], **{field: raw}), h
            )
            assert_invalid(answer, ["body", field])
    payment = {
        "loan_id": f'"{loan["id"]}"',
        "amount": raw,
        "paid_on": f'"{days_ago(1)}"',
        "method": '"cash"',
    }
    assert_invalid(
        await post_raw(lending.client, f"{API}/payments/", payment, h), ["body", "amount"]
    )
    listed = await lending.client.get(f"{API}/payments/loan/{loan['id']}", headers=h)
    assert listed.json()["total"] == 0


async def test_rates_take_zero_but_not_negative_zero_or_more_places(lending: Lending) -> None:
    customer = await lending.customer()
    h = lending.officer.headers
    for raw in ('"-0"', '"-0.0"', '"12.00001"', '"100.0001"'):
        answer = await post_raw(
            lending.client, f"{API}/loans/", terms(customer["id"], annual_rate=raw), h
        )
        assert_invalid(answer, ["body", "annual_rate"])
    answer = await post_raw(
        lending.client, f"{API}/loans/", terms(customer["id"], annual_rate='"0"'), h
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["annual_rate"] == "0"


@pytest.mark.parametrize("raw", ["0", '"0"', "20260101", '"20260101"', '"2026-01-01T00:00:00"'])
async def test_dates_must_be_iso_date_strings(lending: Lending, raw: str) -> None:
    customer = await lending.customer()
    loan = await lending.disbursed(disbursed_days_ago=5)
    client, h = lending.client, lending.officer.headers
    for field in ("expected_disbursement_date", "first_repayment_date"):
        answer = await post_raw(client, f"{API}/loans/", terms(customer["id"], **{field: raw}), h)
        assert_invalid(answer, ["body", field])
    payment = {
        "loan_id": f'"{loan["id"]}"',
        "amount": '"10.00"',
        "paid_on": raw,
        "method": '"cash"',
    }
    assert_invalid(await post_raw(client, f"{API}/payments/", payment, h), ["body", "paid_on"])
    draft = await lending.loan(customer["id"])
    for command in ("submit", "approve"):
        user = lending.officer if command == "submit" else lending.admin
        assert (await lending.command(draft["id"], command, user)).status_code == 200
    answer = await post_raw(
        client, f"{API}/loans/{draft['id']}/disburse", {"disbursed_on": raw}, lending.admin.headers
    )
    assert_invalid(answer, ["body", "disbursed_on"])


@pytest.mark.parametrize("value", ["0", "20260101", "1700000000"])
async def test_query_dates_must_be_iso_date_strings(lending: Lending, value: str) -> None:
    loan = await lending.disbursed(disbursed_days_ago=5)
    client, h = lending.client, lending.admin.headers
    for url, name in (
        (f"{API}/loans/{loan['id']}", "as_of"),
        (f"{API}/loans/{loan['id']}/payoff-quote", "as_of"),
        (f"{API}/dashboard/stats", "collected_from"),
        (f"{API}/dashboard/stats", "collected_to"),
    ):
        answer = await client.get(url, params={name: value}, headers=h)
        assert_invalid(answer, ["query", name])
    good = await client.get(f"{API}/loans/{loan['id']}", params={"as_of": days_ago(1)}, headers=h)
    assert good.status_code == 200, good.text
    assert good.json()["delinquency"]["as_of"] == days_ago(1)


@pytest.mark.parametrize("raw", ["0", "1", '"false"', '"0"', "null"])
async def test_is_active_must_be_a_boolean(
    client: httpx.AsyncClient, login_as: LoginAs, raw: str
) -> None:
    admin, other = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    answer = await client.put(
        f"{API}/users/{other.id}",
        content=f'{{"is_active": {raw}}}',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    if raw == "null":  # null leaves the flag as it is
        assert answer.status_code == 200, answer.text
    else:
        assert_invalid(answer, ["body", "is_active"])
    me = await client.get(f"{API}/users/me", headers=other.headers)
    assert me.status_code == 200, me.text
    assert me.json()["is_active"] is True
