"""Sync status and control show each officer their own nodes, and items, rejected mutations and
conflicts on rows of their portfolio; admins see everything. Another officer's are left out as
if they did not exist."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tests.auth_fixtures import LoggedInUser, LoginAs, create_logged_in_user
from tests.sync.conftest import API, Hub, NodeFactory
from tests.sync.test_protocol import new_customer, now_hlc, pull, push, wall_date

from bazaar.auth.roles import Role


async def get(client: httpx.AsyncClient, path: str, user: LoggedInUser | dict[str, str]) -> Any:
    headers = user.headers if isinstance(user, LoggedInUser) else user
    answer = await client.get(f"{API}/{path}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def new_loan(client: httpx.AsyncClient, officer: LoggedInUser) -> dict[str, Any]:
    customer = await new_customer(client, officer)
    terms = {
        "customer_id": customer["id"],
        "principal": "12000.00",
        "annual_rate": "12",
        "installments": 12,
        "expected_disbursement_date": wall_date(),
    }
    answer = await client.post(f"{API}/loans/", json=terms, headers=officer.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def repayment(loan: dict[str, Any]) -> dict[str, Any]:
    return {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "payment",
        "entity_id": str(uuid.uuid4()),
        "op": "insert",
        "command": "repayment",
        "hlc": now_hlc().encode(),
        "changes": {
            "loan_id": loan["id"],
            "amount": "700",
            "paid_on": wall_date(),
            "method": "cash",
            "notes": "collected at the shop",
        },
    }


def offline_terms(loan: dict[str, Any]) -> dict[str, Any]:
    """Terms edited on a node from a base the hub no longer has: parked as a conflict."""
    return {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "loan",
        "entity_id": loan["id"],
        "op": "update",
        "command": None,
        "hlc": now_hlc().encode(),
        "changes": {"principal": "15000"},
        "base": {"principal": "11000"},
    }


async def test_officers_see_only_their_own_nodes_rejections_and_conflicts(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    officer, other = await login_as(Role.OFFICER), await login_as(Role.OFFICER)
    loan = await new_loan(client, officer)
    # A repayment for a loan not yet disbursed is rejected and kept, with its payload.
    results = await push(client, officer, [repayment(loan), offline_terms(loan)], node="laptop-a")
    assert [r["outcome"] for r in results] == ["rejected", "conflict"]
    await pull(client, other, node="laptop-b")

    theirs = await get(client, "sync/failed-items", other)
    assert theirs == {"items": [], "rejected": []}
    assert (await get(client, "sync/conflicts", other))["items"] == []
    assert [p["node_id"] for p in (await get(client, "sync/peers", other))["items"]] == ["laptop-b"]
    summary = await get(client, "dashboard/sync-summary", other)
    assert (summary["open_conflicts"], summary["rejected_mutations"], summary["peers"]) == (0, 0, 1)
    conflict_id = results[1]["conflict_id"]
    resolve = await client.post(
        f"{API}/sync/conflicts/{conflict_id}/resolve",
        json={"choice": "local"},
        headers=other.headers,
    )
    assert resolve.status_code == 404
    assert resolve.json()["error"]["code"] == "conflict_not_found"

    [rejected] = (await get(client, "sync/failed-items", officer))["rejected"]
    assert (rejected["node_id"], rejected["payload"]["changes"]["amount"]) == ("laptop-a", "700")
    [conflict] = (await get(client, "sync/conflicts", officer))["items"]
    assert conflict["fields"]["principal"]["client"] == "15000"
    own = (await get(client, "sync/peers", officer))["items"]
    assert [p["node_id"] for p in own] == ["laptop-a"]
    summary = await get(client, "dashboard/sync-summary", officer)
    assert (summary["open_conflicts"], summary["rejected_mutations"], summary["peers"]) == (1, 1, 1)

    assert len((await get(client, "sync/failed-items", admin))["rejected"]) == 1
    assert [c["id"] for c in (await get(client, "sync/conflicts", admin))["items"]] == [conflict_id]
    peers = (await get(client, "sync/peers", admin))["items"]
    assert [(p["node_id"], p["user_id"]) for p in peers] == [
        ("laptop-a", str(officer.id)),
        ("laptop-b", str(other.id)),
    ]
    second = await get(client, "sync/peers?limit=1&offset=1", admin)
    assert ([p["node_id"] for p in second["items"]], second["total"]) == (["laptop-b"], 2)


async def test_a_conflict_on_a_row_moved_to_another_officer_follows_the_row(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    officer, successor = await login_as(Role.OFFICER), await login_as(Role.OFFICER)
    loan = await new_loan(client, officer)
    [conflicted] = await push(client, officer, [offline_terms(loan)], node="laptop-a")
    assert conflicted["outcome"] == "conflict"
    customer = await get(client, f"customers/{loan['customer_id']}", admin)
    moved = await client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": customer["version"], "officer_id": str(successor.id)},
        headers=admin.headers,
    )
    assert moved.status_code == 200, moved.text  # the customer's loans move with them

    assert [c["id"] for c in (await get(client, "sync/conflicts", successor))["items"]] == [
        conflicted["conflict_id"]
    ]
    assert (await get(client, "sync/conflicts", officer))["items"] == []


async def test_on_a_node_an_officer_sees_and_retries_only_items_on_their_own_rows(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1", sync_max_attempts=1)
    # Another officer signed in to the same node (a colleague borrowing the laptop).
    colleague = await create_logged_in_user(node.app.state, Role.OFFICER)
    online = node.worker.transport
    assert online is not None

    async def hub_push_broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/sync/push":
            return httpx.Response(503, json={"error": {"code": "unavailable"}})
        return await online.handle_async_request(request)

    node.worker.transport = httpx.MockTransport(hub_push_broken)
    made = await node.client.post(
        f"{API}/customers/",
        json={"full_name": "Stubborn", "phone": "+91 95555 44444"},
        headers=node.headers,
    )
    assert made.status_code == 201, made.text
    customer_id = made.json()["id"]
    await node.sync()
    [failed] = (await get(node.client, "sync/failed-items", node.headers))["items"]
    assert failed["entity_id"] == customer_id

    assert await get(node.client, "sync/failed-items", colleague) == {"items": [], "rejected": []}
    assert (await get(node.client, "sync/pending-count", colleague))["failed"] == 0
    summary = await get(node.client, "dashboard/sync-summary", colleague)
    assert summary["outbox"]["failed"] == 0
    status = await get(node.client, f"sync/status/customer/{customer_id}", colleague)
    assert (status["status"], status["items"]) == ("synced", [])
    forced = await node.client.post(
        f"{API}/sync/force/customer/{customer_id}", headers=colleague.headers
    )
    assert (forced.status_code, forced.json()["items"]) == (200, [])
    retried = await node.client.post(f"{API}/sync/retry-failed", headers=colleague.headers)
    assert retried.json() == {"retried": 0}
    assert (await get(node.client, "sync/pending-count", node.headers))["failed"] == 1
    retried = await node.client.post(f"{API}/sync/retry-failed", headers=node.headers)
    assert retried.json() == {"retried": 1}
