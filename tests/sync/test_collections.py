"""A node's repayments reach the hub as a batch, which takes those of one loan together; the
outcome must be what recording them one push at a time gives."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.lending.conftest import API, Lending, days_ago
from tests.sync.test_protocol import now_hlc, push

from bazaar.auth.roles import Role


def repayment(loan_id: str, amount: str, paid_on: str) -> dict[str, Any]:
    payment_id = str(uuid.uuid4())
    return {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "payment",
        "entity_id": payment_id,
        "op": "insert",
        "command": "repayment",
        "hlc": now_hlc().encode(),
        "changes": {
            "id": payment_id,
            "loan_id": loan_id,
            "amount": amount,
            "paid_on": paid_on,
            "method": "cash",
        },
    }


async def payments_of(
    client: httpx.AsyncClient, user: LoggedInUser, loan_id: str
) -> list[tuple[str, str, str]]:
    answer = await client.get(f"{API}/payments/loan/{loan_id}", headers=user.headers)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["items"]
    return sorted((p["paid_on"], p["principal_part"], p["interest_part"]) for p in rows)


async def test_a_day_of_collections_settles_as_if_pushed_one_by_one(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    lending = Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))
    batched, single, other = [await lending.disbursed(disbursed_days_ago=60) for _ in range(3)]
    day = [("1200.00", 40), ("99999.00", 30), ("500.00", 20)]
    one_by_one = [
        (await push(client, lending.officer, [repayment(single["id"], amount, days_ago(d))]))[0]
        for amount, d in day
    ]
    quote = await client.get(
        f"{API}/loans/{single['id']}/payoff-quote",
        params={"as_of": days_ago(10)},
        headers=lending.officer.headers,
    )
    closing = quote.json()["total"]
    for amount, d in [(closing, 10), ("10.00", 5)]:
        [result] = await push(
            client, lending.officer, [repayment(single["id"], amount, days_ago(d))]
        )
        one_by_one.append(result)
    items = [
        repayment(batched["id"], a, days_ago(d)) for a, d in [*day, (closing, 10), ("10.00", 5)]
    ]
    # The other loan's payments interleave, as a node's outbox orders them by time.
    items[1:1] = [repayment(other["id"], "700.00", days_ago(35))]
    items[4:4] = [repayment(other["id"], "300.00", days_ago(15))]

    together = await push(client, lending.officer, items)

    mine = [
        r
        for r, item in zip(together, items, strict=True)
        if item in items and item["changes"]["loan_id"] == batched["id"]
    ]
    expected = [(r["outcome"], r["code"]) for r in one_by_one]
    assert (
        [(r["outcome"], r["code"]) for r in mine]
        == expected
        == [
            ("applied", None),
            ("rejected", "payment_exceeds_payoff"),
            ("applied", None),
            ("applied", None),
            ("rejected", "loan_not_active"),
        ]
    )
    loans = [await lending.get_loan(loan["id"]) for loan in (batched, single)]
    assert loans[0]["status"] == loans[1]["status"] == "closed"
    for figure in ("principal_paid", "interest_paid", "delinquency"):
        assert loans[0][figure] == loans[1][figure]
    assert await payments_of(client, lending.officer, batched["id"]) == await payments_of(
        client, lending.officer, single["id"]
    )
    others = [
        r["outcome"]
        for r, i in zip(together, items, strict=True)
        if i["changes"]["loan_id"] == other["id"]
    ]
    assert others == ["applied", "applied"]
    applied = together[0]
    assert {(row["entity_type"], row["entity_id"]) for row in applied["rows"]} == {
        ("loan", batched["id"]),
        ("payment", items[0]["entity_id"]),
    }

    again = await push(client, lending.officer, items)

    assert [r["outcome"] for r in again] == ["duplicate"] * len(items)
    assert len(await payments_of(client, lending.officer, batched["id"])) == 3
