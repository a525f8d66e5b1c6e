"""Lending fixtures: a portfolio's people and a helper that walks a loan to disbursement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from tests.auth_fixtures import LoggedInUser, LoginAs

from bazaar.auth.roles import Role
from bazaar.stamps import utcnow

API = "/api/v1"


def today() -> date:
    return utcnow().date()


def days_ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


@dataclass
class Lending:
    """Drives the lending API the way a branch would: officer proposes, admin decides."""

    client: httpx.AsyncClient
    admin: LoggedInUser
    officer: LoggedInUser

    async def customer(self, officer: LoggedInUser | None = None, **fields: Any) -> dict[str, Any]:
        body = {"full_name": "Asha Traders", "phone": "+91 98765 43210", **fields}
        answer = await self.client.post(
            f"{API}/customers/", json=body, headers=(officer or self.officer).headers
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def loan(
        self, customer_id: str, officer: LoggedInUser | None = None, **terms: Any
    ) -> dict[str, Any]:
        body = {
            "customer_id": customer_id,
            "principal": "12000.00",
            "annual_rate": "12",
            "installments": 12,
            "amortization": "equal_principal",
            "expected_disbursement_date": today().isoformat(),
            **terms,
        }
        answer = await self.client.post(
            f"{API}/loans/", json=body, headers=(officer or self.officer).headers
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def command(
        self, loan_id: str, command: str, user: LoggedInUser, **body: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"{API}/loans/{loan_id}/{command}", json=body or None, headers=user.headers
        )

    async def disbursed(self, *, disbursed_days_ago: int = 0, **terms: Any) -> dict[str, Any]:
        customer = await self.customer()
        loan = await self.loan(customer["id"], **terms)
        for command, user in (("submit", self.officer), ("approve", self.admin)):
            answer = await self.command(loan["id"], command, user)
            assert answer.status_code == 200, answer.text
        answer = await self.command(
            loan["id"], "disburse", self.admin, disbursed_on=days_ago(disbursed_days_ago)
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def pay(
        self, loan_id: str, amount: str, paid_on: str, *, key: str | None = None
    ) -> httpx.Response:
        headers = dict(self.officer.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        body = {"loan_id": loan_id, "amount": amount, "paid_on": paid_on, "method": "cash"}
        return await self.client.post(f"{API}/payments/", json=body, headers=headers)

    async def get_loan(self, loan_id: str, user: LoggedInUser | None = None) -> dict[str, Any]:
        answer = await self.client.get(
            f"{API}/loans/{loan_id}", headers=(user or self.officer).headers
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture
async def lending(client: httpx.AsyncClient, login_as: LoginAs) -> Lending:
    return Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))
