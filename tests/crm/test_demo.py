from __future__ import annotations

import httpx
from fastapi import FastAPI

from bazaar.auth.demo import DEMO_PASSWORD
from bazaar.demo import seed_demo
from tests.crm.conftest import API


async def test_the_demo_officer_has_clients_projects_tasks_and_comments(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await seed_demo(app.state.runtime)
    await seed_demo(app.state.runtime)  # a second run adds nothing
    answer = await client.post(
        f"{API}/auth/login", json={"email": "officer@demo.bazaar", "password": DEMO_PASSWORD}
    )
    officer = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    pages = {
        path: await client.get(f"{API}/{path}", headers=officer)
        for path in ("clients", "projects", "tasks", "comments")
    }
    totals = {path: page.json()["total"] for path, page in pages.items()}
    overdue = await client.get(f"{API}/tasks", params={"overdue": "true"}, headers=officer)
    linked = [c for c in pages["clients"].json()["items"] if c["customer_id"]]

    assert totals == {"clients": 3, "projects": 3, "tasks": 4, "comments": 3}
    assert overdue.json()["total"] == 1
    assert len(linked) == 1
