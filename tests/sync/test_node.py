"""A field node and its hub, in one process: offline work reaches the hub, headquarters'
decisions reach the node, edits on both sides merge, and money is applied exactly once."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from tests.sync.conftest import API, Hub, NodeFactory

from bazaar.db import utcnow
from bazaar.sync.models import ItemStatus, SyncItem


def today() -> str:
    return utcnow().date().isoformat()


async def create(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    answer = await client.post(f"{API}/{path}", json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = await client.get(f"{API}/{path}", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_offline_customer_loan_and_repayment_round_trip(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1")
    customer = await create(
        node.client,
        "customers/",
        {"full_name": "Asha Traders", "phone": "+91 98765 43210"},
        node.headers,
    )
    loan = await create(
        node.client,
        "loans/",
        {
            "customer_id": customer["id"],
            "principal": "12000.00",
            "annual_rate": "12",
            "installments": 12,
            "expected_disbursement_date": today(),
        },
        node.headers,
    )
    await create(node.client, f"loans/{loan['id']}/submit", {}, node.headers)
    report = await node.sync()
    assert report.error is None, report
    assert report.failures == 0, report
    at_hub = await get(hub.client, f"loans/{loan['id']}", hub.admin.headers)
    assert at_hub["status"] == "submitted"
    assert (await get(hub.client, f"customers/{customer['id']}", hub.admin.headers))[
        "full_name"
    ] == "Asha Traders"

    await create(hub.client, f"loans/{loan['id']}/approve", {}, hub.admin.headers)
    await create(
        hub.client, f"loans/{loan['id']}/disburse", {"disbursed_on": today()}, hub.admin.headers
    )
    await node.sync_until_quiet()
    on_node = await get(node.client, f"loans/{loan['id']}", node.headers)
    assert on_node["status"] == "disbursed"

    payment = await create(
        node.client,
        "payments/",
        {"loan_id": loan["id"], "amount": "1500.00", "paid_on": today(), "method": "cash"},
        node.headers,
    )
    await node.sync_until_quiet()
    hub_loan = await get(hub.client, f"loans/{loan['id']}", hub.admin.headers)
    node_loan = await get(node.client, f"loans/{loan['id']}", node.headers)
    for money in ("principal_paid", "interest_paid", "delinquency"):
        assert hub_loan[money] == node_loan[money], money
    assert node_loan["principal_paid"] != "0.00"
    hub_payment = await get(hub.client, f"payments/{payment['id']}", hub.admin.headers)
    assert hub_payment["amount"] == "1500.00"
    # Sending the same outbox again changes nothing.
    async with node.app.state.db.sessionmaker() as session:
        items = (await session.execute(select(SyncItem))).scalars().all()
        assert {i.status for i in items} == {ItemStatus.SYNCED}
        await session.execute(SyncItem.__table__.update().values(status=ItemStatus.PENDING))
        await session.commit()
    await node.sync_until_quiet()
    payments = await get(hub.client, f"payments/?loan_id={loan['id']}", hub.admin.headers)
    assert payments["total"] == 1


async def test_edits_of_different_fields_on_both_sides_merge(
    hub: Hub, field_node: NodeFactory
) -> None:
    customer = await create(
        hub.client,
        "customers/",
        {"full_name": "Ravi Stores", "phone": "+91 90000 11111", "officer_id": str(hub.officer.id)},
        hub.admin.headers,
    )
    node = await field_node("laptop-1")
    on_node = await get(node.client, f"customers/{customer['id']}", node.headers)
    answer = await node.client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": on_node["version"], "address": "Pune"},
        headers=node.headers,
    )
    assert answer.status_code == 200, answer.text
    answer = await hub.client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": customer["version"], "phone": "+91 90000 22222"},
        headers=hub.admin.headers,
    )
    assert answer.status_code == 200, answer.text
    await node.sync_until_quiet()
    for client, headers in ((hub.client, hub.admin.headers), (node.client, node.headers)):
        merged = await get(client, f"customers/{customer['id']}", headers)
        assert (merged["address"], merged["phone"]) == ("Pune", "+91 90000 22222")
