"""Amounts in a currency's own minor unit (ISO 4217): JPY 0 places, INR 2, KWD 3. Inputs with
more places are refused, every amount is stored exactly, and answers carry the currency's places.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from tests.lending.conftest import API, Lending, days_ago


def places(amount: str) -> int:
    return len(amount.partition(".")[2])


def assert_places(values: list[str], expected: int) -> None:
    assert [places(v) for v in values] == [expected] * len(values), values


def schedule_amounts(schedule: dict[str, Any]) -> list[str]:
    amounts = [schedule["total_principal"], schedule["total_interest"]]
    for item in schedule["installments"]:
        amounts += [item[k] for k in ("principal", "interest", "principal_paid", "interest_paid")]
    return amounts


def loan_amounts(loan: dict[str, Any]) -> list[str]:
    amounts = [loan["principal"], loan["principal_paid"], loan["interest_paid"]]
    if loan["delinquency"] is not None:
        delinquency = loan["delinquency"]
        amounts += [delinquency[k] for k in ("overdue_amount", "principal_outstanding")]
        amounts.append(delinquency["interest_outstanding"])
    return amounts


def assert_validation_error(answer: httpx.Response, loc: list[str]) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"]["code"] == "validation_error"
    assert loc in [f["loc"] for f in body["error"]["details"]["fields"]], body
    assert body["request_id"]


async def walk_to_disbursement(lending: Lending, **terms: Any) -> dict[str, Any]:
    customer = await lending.customer()
    loan = await lending.loan(customer["id"], **terms)
    for command, user in (("submit", lending.officer), ("approve", lending.admin)):
        answer = await lending.command(loan["id"], command, user)
        assert answer.status_code == 200, answer.text
    answer = await lending.command(loan["id"], "disburse", lending.admin, disbursed_on=days_ago(40))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_kwd_loan_is_approved_disbursed_and_paid_in_fils(lending: Lending) -> None:
    client, h = lending.client, lending.officer.headers
    terms = {"currency": "KWD", "principal": "1000.500", "amortization": "equal_installments"}
    preview = await client.post(
        f"{API}/loans/schedule-preview",
        json={**terms, "annual_rate": "12", "installments": 12,
              "expected_disbursement_date": days_ago(40)},
        headers=h,
    )  # fmt: skip
    assert preview.status_code == 200, preview.text
    assert preview.json()["currency"] == "KWD"
    assert_places(schedule_amounts(preview.json()), 3)
    assert preview.json()["total_principal"] == "1000.500"

    loan = await walk_to_disbursement(lending, **terms)
    assert loan["principal"] == "1000.500"
    assert_places(loan_amounts(loan), 3)
    schedule = (await client.get(f"{API}/loans/{loan['id']}/schedule", headers=h)).json()
    assert_places(schedule_amounts(schedule), 3)
    assert sum(Decimal(i["principal"]) for i in schedule["installments"]) == Decimal("1000.5")
    assert schedule["installments"] == preview.json()["installments"]
    assert schedule["installments"][0]["interest"] == "10.005"  # 1000.500 x 1 %

    paid = await lending.pay(loan["id"], "100.125", days_ago(1))
    assert paid.status_code == 201, paid.text
    assert (paid.json()["amount"], paid.json()["currency"]) == ("100.125", "KWD")
    assert_places([paid.json()["principal_part"], paid.json()["interest_part"]], 3)
    stored = await client.get(f"{API}/payments/{paid.json()['id']}", headers=h)
    assert stored.json() == paid.json()
    listed = (await client.get(f"{API}/payments/loan/{loan['id']}", headers=h)).json()
    assert [p["amount"] for p in listed["items"]] == ["100.125"]

    read = await lending.get_loan(loan["id"])
    assert_places(loan_amounts(read), 3)
    assert Decimal(read["principal_paid"]) + Decimal(read["interest_paid"]) == Decimal("100.125")
    quote = (await client.get(f"{API}/loans/{loan['id']}/payoff-quote", headers=h)).json()
    assert quote["currency"] == "KWD"
    assert_places([quote["principal"], quote["interest"], quote["total"]], 3)
    closing = await lending.pay(loan["id"], quote["total"], days_ago(0))
    assert closing.status_code == 201, closing.text
    assert (await lending.get_loan(loan["id"]))["status"] == "closed"


async def test_kwd_refuses_a_fourth_place(lending: Lending) -> None:
    customer = await lending.customer()
    answer = await lending.client.post(
        f"{API}/loans/",
        json={"customer_id": customer["id"], "currency": "KWD", "principal": "1000.5001",
              "annual_rate": "12", "installments": 12,
              "expected_disbursement_date": days_ago(0)},
        headers=lending.officer.headers,
    )  # fmt: skip
    assert_validation_error(answer, ["body", "principal"])
    loan = await walk_to_disbursement(lending, currency="KWD", principal="1000.000")
    assert_validation_error(
        await lending.pay(loan["id"], "1.0005", days_ago(1)), ["body", "amount"]
    )


async def test_a_jpy_loan_is_in_whole_yen(lending: Lending) -> None:
    client, h = lending.client, lending.officer.headers
    customer = await lending.customer()
    body = {
        "customer_id": customer["id"],
        "currency": "JPY",
        "principal": "100000.50",
        "annual_rate": "12",
        "installments": 12,
        "expected_disbursement_date": days_ago(0),
    }
    refused = await client.post(f"{API}/loans/", json=body, headers=h)
    assert_validation_error(refused, ["body", "principal"])
    assert "JPY amounts have at most 0 decimal places" in refused.text
    preview = await client.post(
        f"{API}/loans/schedule-preview",
        json={k: v for k, v in body.items() if k != "customer_id"},
        headers=h,
    )
    assert_validation_error(preview, ["body", "principal"])

    loan = await walk_to_disbursement(
        lending, currency="JPY", principal="100000", amortization="equal_installments"
    )
    assert loan["principal"] == "100000"
    assert_places(loan_amounts(loan), 0)
    schedule = (await client.get(f"{API}/loans/{loan['id']}/schedule", headers=h)).json()
    assert_places(schedule_amounts(schedule), 0)
    assert schedule["total_principal"] == "100000"

    fractional = await lending.pay(loan["id"], "1000.5", days_ago(1))
    assert fractional.status_code == 422, fractional.text
    error = fractional.json()["error"]
    assert error["code"] == "invalid_payment"
    assert error["details"] == {"field": "amount", "currency": "JPY", "places": 0}
    paid = await lending.pay(loan["id"], "10000", days_ago(1))
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount"] == "10000"
    assert_places([paid.json()["principal_part"], paid.json()["interest_part"]], 0)
    assert (
        await client.get(f"{API}/payments/{paid.json()['id']}", headers=h)
    ).json() == paid.json()
    read = await lending.get_loan(loan["id"])
    assert_places(loan_amounts(read), 0)
    too_much = await lending.pay(loan["id"], "1000000", days_ago(0))
    assert too_much.status_code == 422, too_much.text
    assert places(too_much.json()["error"]["details"]["payoff_amount"]) == 0


async def test_the_created_payment_echoes_the_amount_as_stored(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    first = await lending.pay(loan["id"], "100.0", days_ago(1), key="pay-once")
    assert first.status_code == 201, first.text
    assert (first.json()["amount"], first.json()["currency"]) == ("100.00", "INR")
    replay = await lending.pay(loan["id"], "100.0", days_ago(1), key="pay-once")
    assert replay.status_code == 201, replay.text
    assert replay.json() == first.json()
    stored = await lending.client.get(
        f"{API}/payments/{first.json()['id']}", headers=lending.officer.headers
    )
    assert stored.json() == first.json()
    cents = await lending.pay(loan["id"], "100.005", days_ago(1))
    assert cents.status_code == 422, cents.text
    assert cents.json()["error"]["details"] == {"field": "amount", "currency": "INR", "places": 2}


async def test_terms_that_no_longer_fit_together_are_422_on_edit(lending: Lending) -> None:
    customer = await lending.customer()
    loan = await lending.loan(customer["id"], principal="12000.50")
    for change in ({"currency": "JPY"}, {"grace_on_principal": 12}):
        answer = await lending.client.put(
            f"{API}/loans/{loan['id']}", json={"version": 1, **change},
            headers=lending.officer.headers,
        )  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_loan_terms"
    assert (await lending.get_loan(loan["id"]))["currency"] == "INR"
