"""A hypothesis state machine over disburse / repay / backdated repay / reverse / write-off.

After every step, through the API: payments allocated = payments received - reversals,
0 <= outstanding = principal - principal repaid, and the loan's cached balances equal a
recomputation from its schedule and payments with the pure rules.

Hypothesis drives rules synchronously, so the app runs on an event loop of its own thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from tests.auth_fixtures import create_logged_in_user
from tests.backends import Backend, empty
from tests.lending.conftest import API, Lending

from bazaar.auth.roles import Role
from bazaar.config import Settings
from bazaar.lending import rules
from bazaar.main import create_app

T = TypeVar("T")
DISBURSED_DAYS_AGO = 200


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def lending_on_thread(backend: Backend, settings: Settings) -> Iterator[tuple[LoopThread, Lending]]:
    worker = LoopThread()
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    worker.run(lifespan.__aenter__())

    async def start() -> Lending:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        admin = await create_logged_in_user(app.state, Role.ADMIN)
        officer = await create_logged_in_user(app.state, Role.OFFICER)
        return Lending(client, admin, officer)

    lending = worker.run(start())
    try:
        yield worker, lending
    finally:
        worker.run(lending.client.aclose())
        worker.run(empty(backend, app.state.runtime.db))
        worker.run(lifespan.__aexit__(None, None, None))
        worker.stop()


class LoanBalances(RuleBasedStateMachine):
    worker: LoopThread
    lending: Lending
    payments = Bundle("payments")

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.worker.run(coroutine)

    def day(self, offset: int) -> str:
        return (self.disbursed_on + timedelta(days=offset)).isoformat()

    @initialize()
    def disburse(self) -> None:
        loan = self.call(self.lending.disbursed(disbursed_days_ago=DISBURSED_DAYS_AGO))
        self.loan_id = loan["id"]
        self.disbursed_on = date.fromisoformat(loan["disbursed_on"])
        self.latest = 0
        self.written_off = False

    def _pay(self, amount: Decimal, offset: int) -> str | None:
        answer = self.call(self.lending.pay(self.loan_id, str(amount), self.day(offset)))
        if answer.status_code == 201:
            return str(answer.json()["id"])
        status = self.call(self.lending.get_loan(self.loan_id))["status"]
        if answer.status_code == 409:
            assert status in ("closed", "written_off")
        else:
            assert answer.status_code == 422, answer.text
            error = answer.json()["error"]
            if error["code"] == "payment_overpays_later_payments":
                # It is refused for the payments dated after it: less would still be taken.
                assert Decimal(error["details"]["acceptable_amount"]) < amount
            else:
                assert Decimal(error["details"]["payoff_amount"]) < amount
        return None

    @rule(
        target=payments,
        amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("6000"), places=2),
        step=st.integers(0, 40),
    )
    def repay(self, amount: Decimal, step: int) -> str | None:
        self.latest = min(self.latest + step, DISBURSED_DAYS_AGO)
        return self._pay(amount, self.latest)

    @rule(
        target=payments,
        amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2),
        data=st.data(),
    )
    def backdated_repay(self, amount: Decimal, data: st.DataObject) -> str | None:
        return self._pay(amount, data.draw(st.integers(0, self.latest)))

    @rule(payment=consumes(payments))
    def reverse(self, payment: str | None) -> None:
        if payment is None:
            return
        answer = self.call(
            self.lending.client.delete(
                f"{API}/payments/{payment}",
                params={"reason": "machine"},
                headers=self.lending.admin.headers,
            )
        )
        assert answer.status_code == (409 if self.written_off else 200), answer.text

    @rule()
    def write_off(self) -> None:
        answer = self.call(self.lending.command(self.loan_id, "write-off", self.lending.admin))
        status = self.call(self.lending.get_loan(self.loan_id))["status"]
        if answer.status_code == 200:
            self.written_off = True
        else:
            assert answer.status_code == 409
            assert status in ("closed", "written_off")

    @invariant()
    def balances_agree_with_a_recomputation(self) -> None:
        if not hasattr(self, "loan_id"):
            return
        loan, schedule, payments = self.call(self._read())
        live = [p for p in payments if not p["reversed"]]
        allocated = sum(Decimal(p["principal_part"]) + Decimal(p["interest_part"]) for p in live)
        assert allocated == sum(Decimal(p["amount"]) for p in live)
        assert all(
            p["principal_part"] == p["interest_part"] == "0.00" for p in payments if p["reversed"]
        )

        principal = Decimal(loan["principal"])
        outstanding = Decimal(loan["delinquency"]["principal_outstanding"])
        assert 0 <= outstanding == principal - Decimal(loan["principal_paid"])

        recomputed = rules.allocate(
            [
                rules.ScheduledInstallment(
                    number=i["number"],
                    starts_on=date.fromisoformat(i["starts_on"]),
                    due_date=date.fromisoformat(i["due_date"]),
                    principal=Decimal(i["principal"]),
                    interest=Decimal(i["interest"]),
                )
                for i in schedule
            ],
            [
                rules.PaymentRecord(
                    id=uuid.UUID(p["id"]),
                    paid_on=date.fromisoformat(p["paid_on"]),
                    amount=Decimal(p["amount"]),
                    reversed=p["reversed"],
                )
                for p in payments
            ],
        )
        assert recomputed.excess == 0
        assert outstanding == recomputed.principal_outstanding
        assert (
            Decimal(loan["delinquency"]["interest_outstanding"]) == recomputed.interest_outstanding
        )
        if not self.written_off:
            assert (loan["status"] == "closed") == (recomputed.closed_on is not None)
            assert loan["closed_on"] == (
                recomputed.closed_on.isoformat() if recomputed.closed_on else None
            )

    async def _read(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        headers = self.lending.officer.headers
        loan = await self.lending.get_loan(self.loan_id)
        schedule = await self.lending.client.get(
            f"{API}/loans/{self.loan_id}/schedule", headers=headers
        )
        payments = await self.lending.client.get(
            f"{API}/payments/loan/{self.loan_id}", params={"limit": 200}, headers=headers
        )
        return loan, schedule.json()["installments"], payments.json()["items"]


def test_cached_balances_survive_any_sequence_of_money_moves(
    lending_on_thread: tuple[LoopThread, Lending],
) -> None:
    LoanBalances.worker, LoanBalances.lending = lending_on_thread
    run_state_machine_as_test(
        LoanBalances,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
