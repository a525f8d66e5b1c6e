"""Hub and field nodes as separate `bazaar serve` processes with their own databases.

The nodes work while the hub is down, the hub decides meanwhile, and after the nodes sync
until quiet every node's copy of its officer's portfolio equals the hub's, field by field.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from decimal import Decimal

import httpx
import pytest
from tests.sync.cluster import (
    Cluster,
    application,
    approve_and_disburse,
    assert_converged,
    call,
    customer,
    pay,
    portfolio,
    sync_until_quiet,
)

pytestmark = pytest.mark.slow


async def test_offline_work_converges_after_the_hub_returns(cluster: Cluster) -> None:
    hub, admin = cluster.hub, cluster.admin
    active: dict[str, str] = {}
    waiting: dict[str, str] = {}
    for officer in cluster.officers:
        c = await customer(hub, officer.hub_headers, f"{officer.email} shop")
        active[officer.id] = (await application(hub, officer.hub_headers, c["id"]))["id"]
        await approve_and_disburse(hub, admin, active[officer.id])
        waiting[officer.id] = (await application(hub, officer.hub_headers, c["id"]))["id"]
        await sync_until_quiet(officer)

    await hub.stop()
    paid: dict[str, list[str]] = {}
    for officer in cluster.officers:
        node, headers = officer.node, officer.node_headers
        assert headers is not None
        for n in range(3):
            c = await customer(node, headers, f"offline {n}")
            await application(node, headers, c["id"])
        paid[officer.id] = [
            (await pay(node, headers, active[officer.id], amount))["id"]
            for amount in ("1000.00", "2500.50", "999.99")
        ]
        for _ in range(3):  # three failed probes in a row: offline
            report = await call(node, "POST", "sync/batch", headers)
            assert report["error"] is not None
        assert (await call(node, "GET", "sync/network-status", headers))["quality"] == "offline"
        assert (await call(node, "GET", "sync/pending-count", headers))["pending"] >= 9

    await hub.start()
    for officer in cluster.officers:
        await approve_and_disburse(hub, admin, waiting[officer.id])
    for _ in range(2):
        for officer in cluster.officers:
            await sync_until_quiet(officer)
    await assert_converged(cluster)

    for officer in cluster.officers:
        payments = await call(hub, "GET", f"payments/?loan_id={active[officer.id]}", admin)
        assert sorted(p["id"] for p in payments["items"]) == sorted(paid[officer.id])
        loan = await call(hub, "GET", f"loans/{active[officer.id]}", admin)
        node_loan = await call(
            officer.node, "GET", f"loans/{active[officer.id]}", officer.node_headers or {}
        )
        assert (loan["principal_paid"], loan["interest_paid"]) == (
            node_loan["principal_paid"],
            node_loan["interest_paid"],
        )
        total = sum(float(p["amount"]) for p in payments["items"])
        assert round(total, 2) == 4500.49


@pytest.mark.parametrize("victim", ["hub", "node"])
async def test_kill_9_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    cluster: Cluster, victim: str
) -> None:
    hub, admin = cluster.hub, cluster.admin
    officer = cluster.officers[0]
    node, headers = officer.node, officer.node_headers
    assert headers is not None
    c = await customer(hub, officer.hub_headers, "Kill Nine Traders")
    loan_id = (await application(hub, officer.hub_headers, c["id"]))["id"]
    await approve_and_disburse(hub, admin, loan_id)
    await sync_until_quiet(officer)
    made: list[str] = []
    for seed in (11, 23, 37):
        rng = random.Random(seed)
        for n in range(12):
            made.append((await pay(node, headers, loan_id, "10.00"))["id"])
            await customer(node, headers, f"walk-in {seed}-{n}")
        target = hub if victim == "hub" else node
        batch = asyncio.create_task(call(node, "POST", "sync/batch", headers))
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        await target.stop(kill=True)
        # The node died answering, or answered that the hub went away.
        with contextlib.suppress(AssertionError, httpx.HTTPError):
            await batch
        await target.start()
        await sync_until_quiet(officer)
    await assert_converged(cluster)
    payments = await call(hub, "GET", f"payments/?loan_id={loan_id}&limit=200", admin)
    assert sorted(p["id"] for p in payments["items"]) == sorted(made)
    loan = await call(hub, "GET", f"loans/{loan_id}", admin)
    paid = Decimal(loan["principal_paid"]) + Decimal(loan["interest_paid"])
    assert paid == Decimal("360.00")


async def test_bazaar_serve_syncs_on_its_own_and_the_cli_reports(cluster: Cluster) -> None:
    officer = cluster.officers[0]
    node = officer.node
    await node.stop()
    node.env |= {"BAZAAR_SCHEDULER_ENABLED": "true", "BAZAAR_SYNC_INTERVAL_SECONDS": "0.5"}
    await node.start()
    headers = officer.node_headers or {}
    made = await customer(node, headers, "Synced By The Loop")
    async with cluster.hub.client() as http:
        for _ in range(100):
            found = await http.get(f"/api/v1/customers/{made['id']}", headers=cluster.admin)
            if found.status_code == 200:
                break
            await asyncio.sleep(0.2)
    assert found.status_code == 200, found.text
    await node.stop()
    status = json.loads(await node.cli("sync", "status"))
    assert status["node_id"] == "laptop-1"
    assert status["outbox"]["pending"] == 0
    report = json.loads(await node.cli("sync", "now"))
    assert report["error"] is None


async def test_a_borrower_moved_to_another_officer_moves_between_their_laptops(
    cluster: Cluster,
) -> None:
    hub, admin = cluster.hub, cluster.admin
    first, second = cluster.officers
    assert first.node_headers is not None
    assert second.node_headers is not None
    c = await customer(hub, first.hub_headers, "Moving Traders")
    loan_id = (await application(hub, first.hub_headers, c["id"]))["id"]
    await approve_and_disburse(hub, admin, loan_id)
    payment = await pay(hub, first.hub_headers, loan_id, "1500.00")
    await sync_until_quiet(first)
    assert (await call(first.node, "GET", f"loans/{loan_id}", first.node_headers))["id"] == loan_id

    current = await call(hub, "GET", f"customers/{c['id']}", admin)
    body = {"version": current["version"], "officer_id": second.id}
    await call(hub, "PUT", f"customers/{c['id']}", admin, body)
    for officer in cluster.officers:
        await sync_until_quiet(officer)

    async with first.node.client() as http:
        gone = await http.get(f"/api/v1/loans/{loan_id}", headers=first.node_headers)
    schedule = await call(second.node, "GET", f"loans/{loan_id}/schedule", second.node_headers)
    payments = await call(second.node, "GET", f"payments/?loan_id={loan_id}", second.node_headers)
    left_behind = await portfolio(first.node.database_url, first.id)
    assert gone.status_code == 404
    assert c["id"] not in left_behind["customer"]
    assert payment["id"] not in left_behind["payment"]
    assert len(schedule["installments"]) == 12
    assert [p["id"] for p in payments["items"]] == [payment["id"]]
    await assert_converged(cluster)
