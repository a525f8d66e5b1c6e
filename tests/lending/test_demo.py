from __future__ import annotations

import httpx
from fastapi import FastAPI
from tests.lending.conftest import API

from bazaar.auth.demo import DEMO_PASSWORD
from bazaar.demo import seed_demo


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await client.post(
        f"{API}/auth/login", json={"email": email, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_demo_portfolio_has_every_status_and_a_linked_borrower(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await seed_demo(app.state.runtime)
    await seed_demo(app.state.runtime)  # a second run adds nothing
    officer = await _login(client, "officer@demo.bazaar")
    borrower = await _login(client, "borrower@demo.bazaar")

    loans = (await client.get(f"{API}/loans/", headers=officer)).json()
    stats = (await client.get(f"{API}/dashboard/stats", headers=officer)).json()
    own = (await client.get(f"{API}/loans/", headers=borrower)).json()

    assert loans["total"] == 10
    assert all(count >= 1 for count in stats["loans_by_status"].values())
    assert stats["overdue_loans"] >= 2
    buckets = {
        loan["delinquency"]["bucket"] for loan in loans["items"] if loan["status"] == "disbursed"
    }
    assert {"current", "90+"} <= buckets
    assert [loan["status"] for loan in own["items"]] == ["disbursed"]
