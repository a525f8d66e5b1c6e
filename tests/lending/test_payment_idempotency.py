from __future__ import annotations

import asyncio

from tests.lending.conftest import API, Lending, today


async def _payments_of(lending: Lending, loan_id: str) -> list[dict[str, str]]:
    answer = await lending.client.get(
        f"{API}/payments/loan/{loan_id}", headers=lending.officer.headers
    )
    return list(answer.json()["items"])


async def test_five_sequential_repeats_make_one_payment_with_identical_answers(
    lending: Lending,
) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)

    answers = [
        await lending.pay(loan["id"], "250.00", today().isoformat(), key="pay-1") for _ in range(5)
    ]

    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None] + ["true"] * 4
    assert len(await _payments_of(lending, loan["id"])) == 1
    assert (await lending.get_loan(loan["id"]))["interest_paid"] == "120.00"


async def test_same_key_with_another_body_is_422(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    await lending.pay(loan["id"], "250.00", today().isoformat(), key="pay-1")

    changed = await lending.pay(loan["id"], "260.00", today().isoformat(), key="pay-1")

    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert len(await _payments_of(lending, loan["id"])) == 1


async def test_a_refused_payment_frees_its_key(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)

    too_much = await lending.pay(loan["id"], "99999.00", today().isoformat(), key="pay-1")
    corrected = await lending.pay(loan["id"], "999.00", today().isoformat(), key="pay-1")

    assert too_much.status_code == 422
    assert corrected.status_code == 201


async def test_keys_belong_to_their_caller(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    body = {
        "loan_id": loan["id"],
        "amount": "10.00",
        "paid_on": today().isoformat(),
        "method": "cash",
    }

    for user in (lending.officer, lending.admin):
        answer = await lending.client.post(
            f"{API}/payments/", json=body, headers={**user.headers, "Idempotency-Key": "same"}
        )
        assert answer.status_code == 201
        assert answer.headers.get("Idempotent-Replayed") is None

    assert len(await _payments_of(lending, loan["id"])) == 2


async def test_fifty_concurrent_identical_requests_make_one_payment(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)

    answers = await asyncio.gather(
        *(lending.pay(loan["id"], "100.00", today().isoformat(), key="burst") for _ in range(50))
    )

    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    assert all(
        a.json()["error"]["code"] == "idempotency_key_in_flight"
        for a in answers
        if a.status_code == 409
    )
    assert len(await _payments_of(lending, loan["id"])) == 1
    assert (await lending.get_loan(loan["id"]))["interest_paid"] == "100.00"


async def test_both_spellings_of_the_path_are_one_request(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    body = {"loan_id": loan["id"], "amount": "10.00", "paid_on": today().isoformat()}
    headers = {**lending.officer.headers, "Idempotency-Key": "spelled"}

    first, second = [
        await lending.client.post(path, json={**body, "method": "cash"}, headers=headers)
        for path in (f"{API}/payments", f"{API}/payments/")
    ]

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(await _payments_of(lending, loan["id"])) == 1
