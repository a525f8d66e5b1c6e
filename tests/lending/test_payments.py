from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal

from fastapi import FastAPI
from sqlalchemy import select
from tests.auth_fixtures import LoginAs
from tests.lending.conftest import API, Lending, days_ago, today

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import unit_of_work
from bazaar.events import Event
from bazaar.lending import repayments, service
from bazaar.lending.models import PaymentMethod
from bazaar.lending.schemas import PaymentCreate
from bazaar.sync.models import ChangeLog


async def test_payment_pays_interest_then_principal_of_the_oldest_installment(
    lending: Lending, published_events: list[Event]
) -> None:
    loan = await lending.disbursed(disbursed_days_ago=40)

    answer = await lending.pay(loan["id"], "1200.00", days_ago(5))
    after = await lending.get_loan(loan["id"])

    assert answer.status_code == 201, answer.text
    assert (answer.json()["interest_part"], answer.json()["principal_part"]) == (
        "200.00",
        "1000.00",
    )
    assert (after["principal_paid"], after["interest_paid"]) == ("1000.00", "200.00")
    assert after["delinquency"]["principal_outstanding"] == "11000.00"
    received = next(e for e in published_events if e.type == "payment_received")
    assert received.data["loan_id"] == loan["id"]
    assert received.data["officer_id"] == str(lending.officer.id)
    assert received.data["amount"] == "1200.00"


async def test_backdated_payment_reallocates_in_date_order(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=70)
    later = (await lending.pay(loan["id"], "1110.00", days_ago(5))).json()

    earlier = await lending.pay(loan["id"], "1120.00", days_ago(35))
    moved = await lending.client.get(
        f"{API}/payments/{later['id']}", headers=lending.officer.headers
    )

    assert (later["interest_part"], later["principal_part"]) == ("120.00", "990.00")
    assert (earlier.json()["interest_part"], earlier.json()["principal_part"]) == (
        "120.00",
        "1000.00",
    )
    assert (moved.json()["interest_part"], moved.json()["principal_part"]) == ("110.00", "1000.00")


async def test_payment_above_the_payoff_is_refused_with_the_payoff(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)

    answer = await lending.pay(loan["id"], "12120.01", today().isoformat())

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "payment_exceeds_payoff"
    assert answer.json()["error"]["details"]["payoff_amount"] == "12120.00"


async def test_a_backdated_payment_the_later_ones_would_overpay_says_what_still_fits(
    lending: Lending,
) -> None:
    loan = await lending.disbursed(disbursed_days_ago=90)
    quote = (
        await lending.client.get(
            f"{API}/loans/{loan['id']}/payoff-quote", headers=lending.officer.headers
        )
    ).json()
    later = await lending.pay(loan["id"], str(Decimal(quote["total"]) - 100), today().isoformat())
    assert later.status_code == 201, later.text

    refused = await lending.pay(loan["id"], "200.00", days_ago(30))
    acceptable = refused.json()["error"]["details"]["acceptable_amount"]
    too_much = await lending.pay(
        loan["id"], str(Decimal(acceptable) + Decimal("0.01")), days_ago(30)
    )
    taken = await lending.pay(loan["id"], acceptable, days_ago(30))

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "payment_overpays_later_payments"
    assert Decimal("0") < Decimal(acceptable) < Decimal("200.00")
    assert too_much.status_code == 422
    assert taken.status_code == 201, taken.text
    assert (await lending.get_loan(loan["id"]))["status"] == "closed"


async def test_paying_the_quote_closes_and_a_reversal_reopens(
    lending: Lending, published_events: list[Event]
) -> None:
    loan = await lending.disbursed(disbursed_days_ago=45)
    first = (await lending.pay(loan["id"], "1120.00", days_ago(14))).json()
    quote = (
        await lending.client.get(
            f"{API}/loans/{loan['id']}/payoff-quote", headers=lending.officer.headers
        )
    ).json()

    closing = await lending.pay(loan["id"], quote["total"], today().isoformat())
    closed = await lending.get_loan(loan["id"])
    refused = await lending.pay(loan["id"], "1.00", today().isoformat())
    reversal = await lending.client.delete(
        f"{API}/payments/{first['id']}", params={"reason": "bounced"}, headers=lending.admin.headers
    )
    reopened = await lending.get_loan(loan["id"])

    assert (quote["principal"], quote["interest"], quote["total"]) == (
        "11000.00",
        "110.00",
        "11110.00",
    )
    assert closing.status_code == 201
    assert (closed["status"], closed["closed_on"]) == ("closed", today().isoformat())
    assert closed["delinquency"]["principal_outstanding"] == "0.00"
    assert refused.status_code == 409
    assert reversal.status_code == 200
    assert reversal.json()["reversed"] is True
    assert reversal.json()["reversal_reason"] == "bounced"
    assert reopened["status"] == "disbursed"
    assert reopened["closed_on"] is None
    changes = [
        (e.data["old_status"], e.data["new_status"])
        for e in published_events
        if e.type == "loan_status_change"
    ]
    assert changes[-2:] == [("disbursed", "closed"), ("closed", "disbursed")]


async def test_reversal_is_admin_only_and_happens_once(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    payment = (await lending.pay(loan["id"], "500.00", today().isoformat())).json()
    url = f"{API}/payments/{payment['id']}"

    by_officer = await lending.client.delete(
        url, params={"reason": "typo"}, headers=lending.officer.headers
    )
    first = await lending.client.delete(
        url, params={"reason": "typo"}, headers=lending.admin.headers
    )
    second = await lending.client.delete(
        url, params={"reason": "typo"}, headers=lending.admin.headers
    )
    after = await lending.get_loan(loan["id"])

    assert (by_officer.status_code, first.status_code, second.status_code) == (403, 200, 409)
    assert (first.json()["principal_part"], first.json()["interest_part"]) == ("0.00", "0.00")
    assert after["principal_paid"] == "0.00"


async def test_payment_edits_touch_reference_and_notes_only(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)
    payment = (await lending.pay(loan["id"], "500.00", today().isoformat())).json()
    url = f"{API}/payments/{payment['id']}"

    edited = await lending.client.put(
        url, json={"reference": "UPI-123", "notes": "at the shop"}, headers=lending.officer.headers
    )
    money = await lending.client.put(url, json={"amount": "5.00"}, headers=lending.officer.headers)

    assert edited.json()["reference"] == "UPI-123"
    assert edited.json()["amount"] == "500.00"
    assert money.status_code == 422


async def test_payments_need_a_disbursed_loan_and_a_date_until_today(lending: Lending) -> None:
    draft = await lending.loan((await lending.customer())["id"])
    active = await lending.disbursed(disbursed_days_ago=10)

    on_draft = await lending.pay(draft["id"], "10.00", today().isoformat())
    future = await lending.pay(active["id"], "10.00", days_ago(-1))
    before = await lending.pay(active["id"], "10.00", days_ago(11))

    assert on_draft.status_code == 409
    assert (future.status_code, before.status_code) == (422, 422)


async def test_borrowers_see_their_own_payments_only(lending: Lending, login_as: LoginAs) -> None:
    borrower = await login_as(Role.CUSTOMER)
    mine = await lending.disbursed(disbursed_days_ago=10)
    theirs = await lending.disbursed(disbursed_days_ago=10)
    await lending.client.put(
        f"{API}/customers/{mine['customer_id']}",
        json={"version": 1, "user_id": str(borrower.id)},
        headers=lending.officer.headers,
    )
    own_payment = (await lending.pay(mine["id"], "100.00", today().isoformat())).json()
    other_payment = (await lending.pay(theirs["id"], "100.00", today().isoformat())).json()

    listed = await lending.client.get(f"{API}/payments/", headers=borrower.headers)
    by_loan = await lending.client.get(
        f"{API}/payments/loan/{mine['id']}", headers=borrower.headers
    )
    foreign_loan = await lending.client.get(
        f"{API}/payments/loan/{theirs['id']}", headers=borrower.headers
    )
    foreign = await lending.client.get(
        f"{API}/payments/{other_payment['id']}", headers=borrower.headers
    )
    recorded = await lending.pay(mine["id"], "1.00", today().isoformat())

    assert [p["id"] for p in listed.json()["items"]] == [own_payment["id"]]
    assert [p["id"] for p in by_loan.json()["items"]] == [own_payment["id"]]
    assert (foreign_loan.status_code, foreign.status_code) == (404, 404)
    assert recorded.status_code == 201  # the officer, not the borrower, records payments
    by_borrower = await lending.client.post(
        f"{API}/payments/",
        json={
            "loan_id": mine["id"],
            "amount": "1.00",
            "paid_on": today().isoformat(),
            "method": "upi",
        },
        headers=borrower.headers,
    )
    assert by_borrower.status_code == 403


async def test_delinquency_as_of_a_past_date_replays_payments_up_to_then(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=100)
    await lending.pay(loan["id"], "3330.00", today().isoformat())
    schedule = (
        await lending.client.get(
            f"{API}/loans/{loan['id']}/schedule", headers=lending.officer.headers
        )
    ).json()
    first_due = date.fromisoformat(schedule["installments"][0]["due_date"])
    yesterday = today() - timedelta(days=1)

    now = await lending.get_loan(loan["id"])
    before = (
        await lending.client.get(
            f"{API}/loans/{loan['id']}",
            params={"as_of": yesterday.isoformat()},
            headers=lending.officer.headers,
        )
    ).json()

    assert now["delinquency"]["bucket"] == "current"
    assert now["delinquency"]["overdue_amount"] == "0.00"
    assert before["delinquency"]["days_past_due"] == (yesterday - first_due).days
    assert before["delinquency"]["bucket"] == "61-90"
    assert before["delinquency"]["overdue_amount"] == "3330.00"


async def test_dashboard_counts_the_portfolio_of_the_caller(
    lending: Lending, login_as: LoginAs
) -> None:
    late = await lending.disbursed(disbursed_days_ago=75)
    await lending.disbursed()
    await lending.loan(late["customer_id"])
    other_officer = await login_as(Role.OFFICER)
    await lending.customer(officer=other_officer)
    await lending.pay(late["id"], "20.00", today().isoformat())

    mine = (
        await lending.client.get(f"{API}/dashboard/stats", headers=lending.officer.headers)
    ).json()
    everything = (
        await lending.client.get(f"{API}/dashboard/stats", headers=lending.admin.headers)
    ).json()
    theirs = (
        await lending.client.get(f"{API}/dashboard/stats", headers=other_officer.headers)
    ).json()
    borrower = await login_as(Role.CUSTOMER)
    refused = await lending.client.get(f"{API}/dashboard/stats", headers=borrower.headers)

    assert mine["loans_by_status"]["disbursed"] == 2
    assert mine["loans_by_status"]["draft"] == 1
    assert (mine["customers"], everything["customers"], theirs["customers"]) == (2, 3, 1)
    assert mine["disbursed_amount"] == "24000.00"
    assert mine["outstanding_principal"] == "24000.00"
    assert mine["collected"] == "20.00"
    assert mine["overdue_loans"] == 1
    assert mine["par30"] == "0.5000"
    assert theirs["loans_by_status"]["disbursed"] == 0
    assert refused.status_code == 403


async def test_concurrent_payments_on_one_loan_all_count(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=10)

    answers = await asyncio.gather(
        *(lending.pay(loan["id"], "10.00", today().isoformat()) for _ in range(20))
    )
    after = await lending.get_loan(loan["id"])

    assert [a.status_code for a in answers] == [201] * 20
    assert after["interest_paid"] == "120.00"
    assert after["principal_paid"] == "80.00"


async def _changes_of(app: FastAPI, entity_id: str) -> list[ChangeLog]:
    async with app.state.runtime.db.sessionmaker() as session:
        query = select(ChangeLog).where(ChangeLog.entity_id == uuid.UUID(entity_id))
        return list((await session.scalars(query.order_by(ChangeLog.seq))).all())


async def test_every_payment_reaches_the_change_log_as_it_is_stored(
    lending: Lending, app: FastAPI
) -> None:
    """The payment that comes last in date order is written without the ORM, the backdated one
    through it: field nodes must get the same account of both."""
    loan = await lending.disbursed(disbursed_days_ago=60)
    paid = []
    for amount, paid_on in (("700.00", days_ago(5)), ("300.00", days_ago(20))):
        answer = await lending.pay(loan["id"], amount, paid_on)
        assert answer.status_code == 201, answer.text
        [change] = await _changes_of(app, answer.json()["id"])
        paid.append((answer.json(), change))
    for payment, change in paid:
        assert (change.op, change.version, change.owner_id) == ("insert", 1, lending.officer.id)
        assert change.data is not None
        assert change.data["paid_on"] == payment["paid_on"]
        assert Decimal(change.data["amount"]) == Decimal(payment["amount"])
        assert Decimal(change.data["interest_part"]) == Decimal(payment["interest_part"])
        assert set(change.fields) == set(change.data)
    assert set(paid[0][1].data or {}) == set(paid[1][1].data or {})

    *_, by_first, by_backdated = [c for c in await _changes_of(app, loan["id"]) if c.op == "update"]
    after = await lending.get_loan(loan["id"])
    assert (by_first.version, by_backdated.version) == (after["version"] - 1, after["version"])
    assert by_first.owner_id == by_backdated.owner_id == lending.officer.id
    assert by_backdated.data is not None
    assert by_first.data is not None
    for name in ("principal_paid", "interest_paid"):
        assert Decimal(by_backdated.data[name]) == Decimal(after[name])
    assert set(by_first.data) == set(by_backdated.data)
    # Only what a payment moved is clocked as changed; the terms are not.
    assert {"interest_outstanding", "interest_paid"} <= set(by_first.fields)
    assert not {"principal", "annual_rate", "status"} & set(by_first.fields)


async def test_a_payment_updates_the_loan_a_transaction_already_holds(
    lending: Lending, app: FastAPI
) -> None:
    """A sync push edits a loan and then records its payment in one transaction: the loan object
    it holds must show the payment, and its next write must not undo it."""
    loan = await lending.disbursed(disbursed_days_ago=40)
    principal = Principal(user_id=lending.officer.id, role=Role.OFFICER)
    async with unit_of_work(app.state.runtime.db, app.state.runtime.events) as session:
        held = await service.get_loan(
            session=session, principal=principal, loan_id=uuid.UUID(loan["id"])
        )
        data = PaymentCreate(
            loan_id=held.id, amount=Decimal("100.00"), paid_on=today(), method=PaymentMethod.CASH
        )
        await repayments.record_payment(session=session, principal=principal, data=data)
        assert held.interest_paid == Decimal("100.00")
        assert held.version == loan["version"] + 1
        held.purpose = "Stock for the festival season"
        await session.flush()
    after = await lending.get_loan(loan["id"])
    assert Decimal(after["interest_paid"]) == Decimal("100.00")
    assert after["purpose"] == "Stock for the festival season"


async def test_a_schedule_reads_as_a_borrower_reads_it(lending: Lending) -> None:
    loan = await lending.disbursed(disbursed_days_ago=40)
    before = (
        await lending.client.get(
            f"{API}/loans/{loan['id']}/schedule", headers=lending.officer.headers
        )
    ).json()["installments"]
    first = before[0]
    paid = Decimal(first["total"]) - Decimal("100.00")
    answer = await lending.pay(loan["id"], str(paid), today().isoformat())
    assert answer.status_code == 201, answer.text
    after = (
        await lending.client.get(
            f"{API}/loans/{loan['id']}/schedule", headers=lending.officer.headers
        )
    ).json()["installments"]

    for installment in before:
        assert Decimal(installment["total"]) == Decimal(installment["principal"]) + Decimal(
            installment["interest"]
        )
        assert installment["remaining_due"] == installment["total"]
    assert Decimal(after[0]["remaining_due"]) == Decimal("100.00")
    assert after[1]["remaining_due"] == after[1]["total"]
