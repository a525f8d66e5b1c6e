"""A field node and its hub, in one process: offline work reaches the hub, headquarters'
decisions reach the node, edits on both sides merge, and money is applied exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select, update
from tests.sync.conftest import API, Hub, Node, NodeFactory

from bazaar.lending.models import Customer
from bazaar.stamps import utcnow
from bazaar.sync.hlc import wall_clock_ms
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
    async with node.app.state.runtime.db.sessionmaker() as session:
        items = (await session.execute(select(SyncItem))).scalars().all()
        assert {i.status for i in items} == {ItemStatus.SYNCED}
        await session.execute(update(SyncItem).values(status=ItemStatus.PENDING))
        await session.commit()
    await node.sync_until_quiet()
    payments = await get(hub.client, f"payments/?loan_id={loan['id']}", hub.admin.headers)
    assert payments["total"] == 1


async def edited_on_both_sides(
    hub: Hub, field_node: NodeFactory, *, offline: dict[str, str], later: dict[str, str]
) -> tuple[Node, dict[str, Any]]:
    """A customer of the officer edited on their node (`offline`), then at the hub (`later`),
    and synced: the node and the customer."""
    customer = await create(
        hub.client,
        "customers/",
        {"full_name": "Ravi Stores", "phone": "+91 90000 11111", "officer_id": str(hub.officer.id)},
        hub.admin.headers,
    )
    node = await field_node("laptop-1")
    on_node = await get(node.client, f"customers/{customer['id']}", node.headers)
    for client, headers, version, changes in (
        (node.client, node.headers, on_node["version"], offline),
        (hub.client, hub.admin.headers, customer["version"], later),
    ):
        answer = await client.put(
            f"{API}/customers/{customer['id']}",
            json={"version": version, **changes},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
    await node.sync_until_quiet()
    return node, customer


async def test_edits_of_different_fields_on_both_sides_merge(
    hub: Hub, field_node: NodeFactory
) -> None:
    node, customer = await edited_on_both_sides(
        hub, field_node, offline={"address": "Pune"}, later={"phone": "+91 90000 22222"}
    )
    for client, headers in ((hub.client, hub.admin.headers), (node.client, node.headers)):
        merged = await get(client, f"customers/{customer['id']}", headers)
        assert (merged["address"], merged["phone"]) == ("Pune", "+91 90000 22222")


async def new_loan(
    node_client: httpx.AsyncClient, headers: dict[str, str], **terms: Any
) -> dict[str, Any]:
    customer = await create(
        node_client,
        "customers/",
        {"full_name": "Meera Textiles", "phone": "+91 91234 56789"},
        headers,
    )
    body = {
        "customer_id": customer["id"],
        "principal": "12000.00",
        "annual_rate": "12",
        "installments": 12,
        "expected_disbursement_date": today(),
        **terms,
    }
    return await create(node_client, "loans/", body, headers)


async def terms_edited_while_approved(
    hub: Hub, field_node: NodeFactory
) -> tuple[Node, dict[str, Any]]:
    """An application submitted from a node, its principal edited there offline while the hub
    approved it: the node (not yet synced since) and the loan."""
    node = await field_node("laptop-1")
    loan = await new_loan(node.client, node.headers)
    await create(node.client, f"loans/{loan['id']}/submit", {}, node.headers)
    await node.sync_until_quiet()
    submitted = await get(node.client, f"loans/{loan['id']}", node.headers)
    edit = await node.client.put(
        f"{API}/loans/{loan['id']}",
        json={"version": submitted["version"], "principal": "15000.00"},
        headers=node.headers,
    )
    assert edit.status_code == 200, edit.text
    await create(hub.client, f"loans/{loan['id']}/approve", {}, hub.admin.headers)
    return node, loan


async def test_terms_edited_offline_on_an_application_approved_meanwhile_go_to_the_inbox(
    hub: Hub, field_node: NodeFactory
) -> None:
    node, loan = await terms_edited_while_approved(hub, field_node)

    report = await node.sync()
    assert report.conflicts == 1
    status = await get(node.client, f"sync/status/loan/{loan['id']}", node.headers)
    assert status["status"] == "conflict"
    [conflict] = await get_list(hub.client, "sync/conflicts", hub.admin.headers)
    assert conflict["fields"]["principal"] == {
        "base": "12000",
        "server": "12000",
        "client": "15000",
    }
    await node.sync_until_quiet()
    on_node = await get(node.client, f"loans/{loan['id']}", node.headers)
    assert (on_node["status"], on_node["principal"]) == ("approved", "12000.00")

    answer = await hub.client.post(
        f"{API}/sync/conflicts/{conflict['id']}/resolve",
        json={"choice": "merged", "values": {"principal": "13000"}},
        headers=hub.admin.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "resolved"
    again = await hub.client.post(
        f"{API}/sync/conflicts/{conflict['id']}/resolve",
        json={"choice": "local"},
        headers=hub.admin.headers,
    )
    assert again.status_code == 409
    await node.sync_until_quiet()
    assert (await get(node.client, f"loans/{loan['id']}", node.headers))["principal"] == "13000.00"


async def test_a_conflict_is_open_on_the_node_until_the_hub_resolves_it(
    hub: Hub, field_node: NodeFactory
) -> None:
    node, loan = await terms_edited_while_approved(hub, field_node)
    await node.sync_until_quiet()

    [on_node] = await get_list(node.client, "sync/conflicts", node.headers)
    refused = await node.client.post(
        f"{API}/sync/conflicts/{on_node['id']}/resolve",
        json={"choice": "remote"},
        headers=node.headers,
    )
    resolved = await hub.client.post(
        f"{API}/sync/conflicts/{on_node['id']}/resolve",
        json={"choice": "local"},
        headers=hub.officer.headers,
    )
    assert resolved.status_code == 200, resolved.text
    await node.sync_until_quiet()
    status = await get(node.client, f"sync/status/loan/{loan['id']}", node.headers)
    counts = await get(node.client, "sync/pending-count", node.headers)
    summary = await get(node.client, "dashboard/sync-summary", node.headers)

    assert on_node["entity_id"] == loan["id"]
    assert on_node["fields"]["principal"]["client"] == "15000"
    assert on_node["fields"]["principal"]["server"] == "12000"
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "resolve_at_hub"
    assert await get_list(node.client, "sync/conflicts", node.headers) == []
    assert status["status"] == "synced"
    assert counts["conflict"] == 0
    assert summary["open_conflicts"] == 0


async def test_the_officer_hears_when_a_newer_hub_edit_replaced_theirs(
    hub: Hub, field_node: NodeFactory
) -> None:
    node, customer = await edited_on_both_sides(
        hub,
        field_node,
        offline={"phone": "+91 90000 33333"},
        later={"phone": "+91 90000 22222"},
    )
    history = await node.app.state.runtime.realtime.broker.history(
        f"officer:{hub.officer.id}", since=0
    )
    told = [
        p.payload["data"]
        for p in history.publications
        if p.payload["data"].get("phase") == "overridden"
    ]

    assert [t["entity_id"] for t in told] == [customer["id"]]
    assert told[0]["fields"]["phone"] == {"yours": "+91 90000 33333", "kept": "+91 90000 22222"}
    assert (await get(node.client, f"customers/{customer['id']}", node.headers))["phone"] == (
        "+91 90000 22222"
    )


async def test_a_repayment_for_a_loan_written_off_meanwhile_is_rejected_and_kept(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1")
    loan = await new_loan(node.client, node.headers)
    await create(node.client, f"loans/{loan['id']}/submit", {}, node.headers)
    await node.sync_until_quiet()
    for command, body in (("approve", {}), ("disburse", {"disbursed_on": today()})):
        await create(hub.client, f"loans/{loan['id']}/{command}", body, hub.admin.headers)
    await node.sync_until_quiet()
    await create(hub.client, f"loans/{loan['id']}/write-off", {}, hub.admin.headers)
    payment = await create(
        node.client,
        "payments/",
        {"loan_id": loan["id"], "amount": "700.00", "paid_on": today(), "method": "cash"},
        node.headers,
    )
    other = await create(
        node.client,
        "customers/",
        {"full_name": "Later Shop", "phone": "+91 95555 00000"},
        node.headers,
    )

    report = await node.sync()
    assert report.failures == 1
    failed = await get(node.client, "sync/failed-items", node.headers)
    [item] = failed["items"]
    assert item["entity_id"] == payment["id"]
    assert "disbursed" in item["last_error"].lower() or "active" in item["last_error"].lower()
    rejected = (await get(hub.client, "sync/failed-items", hub.admin.headers))["rejected"]
    assert [r["payload"]["changes"]["amount"] for r in rejected] == ["700"]
    assert (await get(hub.client, f"customers/{other['id']}", hub.admin.headers))[
        "full_name"
    ] == "Later Shop"
    await node.sync_until_quiet()
    assert (await get(node.client, f"loans/{loan['id']}", node.headers))["status"] == "written_off"
    retried = await create(node.client, "sync/retry-failed", {}, node.headers)
    assert retried == {"retried": 1}


async def test_a_node_ten_minutes_behind_still_converges(hub: Hub, field_node: NodeFactory) -> None:
    node = await field_node("laptop-1")
    clock = node.worker.context.clock
    clock._physical_ms = lambda: wall_clock_ms() - 600_000
    customer = await create(
        node.client,
        "customers/",
        {"full_name": "Slow Clock", "phone": "+91 95555 11111"},
        node.headers,
    )
    await node.sync_until_quiet()
    hub_copy = await get(hub.client, f"customers/{customer['id']}", hub.admin.headers)
    answer = await hub.client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": hub_copy["version"], "address": "HQ"},
        headers=hub.admin.headers,
    )
    assert answer.status_code == 200
    await node.sync_until_quiet()
    on_node = await get(node.client, f"customers/{customer['id']}", node.headers)
    edit = await node.client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": on_node["version"], "address": "Field"},
        headers=node.headers,
    )
    assert edit.status_code == 200
    await node.sync_until_quiet()
    # The node's edit comes after what it saw from the hub, whatever its wall clock says.
    for client, headers in ((hub.client, hub.admin.headers), (node.client, node.headers)):
        assert (await get(client, f"customers/{customer['id']}", headers))["address"] == "Field"


async def test_sync_cycles_are_announced_to_the_officer_and_admins(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1")
    broker = node.app.state.runtime.realtime.broker
    await create(
        node.client,
        "customers/",
        {"full_name": "Heard Of", "phone": "+91 95555 22222"},
        node.headers,
    )
    await node.sync()
    await node.sync()  # nothing to do: nothing to tell
    for channel in (f"officer:{hub.officer.id}", "role:admin"):
        history = await broker.history(channel, since=0)
        phases = [
            p.payload["data"]["phase"]
            for p in history.publications
            if p.payload["type"] == "sync_status"
        ]
        assert phases == ["completed"], channel
        assert history.publications[-1].payload["data"]["pushed"] == 1
    at_hub = await hub.app.state.runtime.realtime.broker.history("role:admin", since=0)
    (pushed,) = [
        p.payload["data"] for p in at_hub.publications if p.payload["type"] == "sync_status"
    ]
    assert (pushed["node_id"], pushed["phase"], pushed["applied"]) == ("laptop-1", "pushed", 1)


async def test_an_outage_is_told_once_and_the_link_is_rated_as_it_is_now(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1")
    online = node.worker.transport
    await node.sync()
    node.worker.transport = httpx.MockTransport(unreachable)
    for _ in range(3):
        await create(node.client, "sync/batch", {}, node.headers)
        network = await get(node.client, "sync/network-status", node.headers)
        assert network["quality"] == "offline"
    node.worker.transport = online
    await create(node.client, "sync/batch", {}, node.headers)
    back = await get(node.client, "sync/network-status", node.headers)
    at_hub = await get(hub.client, "sync/network-status", hub.admin.headers)
    history = await node.app.state.runtime.realtime.broker.history("role:admin", since=0)

    assert back["quality"] in ("excellent", "good")
    assert back["loss"] == 0.0
    phases = [p.payload["data"]["phase"] for p in history.publications]
    assert phases == ["failed", "online"]
    assert (at_hub["role"], at_hub["quality"], at_hub["loss"]) == ("hub", None, None)
    assert [n["node_id"] for n in at_hub["nodes"]] == ["laptop-1"]
    assert at_hub["nodes"][0]["last_seen_at"] is not None


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def test_offline_items_wait_with_backoff_and_force_sends_them(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1")
    online = node.worker.transport
    node.worker.transport = httpx.MockTransport(unreachable)
    made = await create(
        node.client,
        "customers/",
        {"full_name": "Waiting", "phone": "+91 95555 33333"},
        node.headers,
    )
    for _ in range(3):
        report = await create(node.client, "sync/batch", {}, node.headers)
        assert report["error"] is not None
    network = await get(node.client, "sync/network-status", node.headers)
    assert (network["role"], network["quality"]) == ("node", "offline")
    status = await get(node.client, f"sync/status/customer/{made['id']}", node.headers)
    assert status["status"] == "pending"
    assert (await get(node.client, "sync/pending-count", node.headers))["pending"] == 1

    node.worker.transport = online
    forced = await create(node.client, f"sync/force/customer/{made['id']}", {}, node.headers)
    assert forced["status"] == "synced"
    assert (await get(hub.client, f"customers/{made['id']}", hub.admin.headers))[
        "full_name"
    ] == "Waiting"
    summary = await get(node.client, "dashboard/sync-summary", node.headers)
    assert (summary["role"], summary["outbox"]["pending"], summary["synced"]) == (
        "node",
        0,
        summary["synced"],
    )
    assert [p["role"] for p in await get_list(node.client, "sync/peers", node.headers)] == ["hub"]


async def get_list(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[Any]:
    answer = await client.get(f"{API}/{path}", headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_a_push_the_hub_keeps_refusing_backs_off_then_fails_and_retries_on_command(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node(
        "laptop-1",
        sync_max_attempts=2,
        sync_backoff_base_seconds=0.01,
        sync_backoff_cap_seconds=0.02,
    )
    online = node.worker.transport
    assert online is not None

    async def hub_push_broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/sync/push":
            return httpx.Response(503, json={"error": {"code": "unavailable"}})
        return await online.handle_async_request(request)

    node.worker.transport = httpx.MockTransport(hub_push_broken)
    made = await create(
        node.client,
        "customers/",
        {"full_name": "Stubborn", "phone": "+91 95555 44444"},
        node.headers,
    )
    first = await node.sync()
    assert first.error is not None
    status = await get(node.client, f"sync/status/customer/{made['id']}", node.headers)
    assert (status["status"], status["attempts"]) == ("pending", 1)
    await asyncio.sleep(0.05)
    await node.sync()
    [failed] = (await get(node.client, "sync/failed-items", node.headers))["items"]
    assert (failed["entity_id"], failed["attempts"]) == (made["id"], 2)
    assert "503" in failed["last_error"]

    node.worker.transport = online
    assert await create(node.client, "sync/retry-failed", {}, node.headers) == {"retried": 1}
    await node.sync_until_quiet()
    assert (await get(hub.client, f"customers/{made['id']}", hub.admin.headers))[
        "full_name"
    ] == "Stubborn"


async def test_the_scheduled_job_waits_for_the_interval(hub: Hub, field_node: NodeFactory) -> None:
    node = await field_node("laptop-1", sync_interval_seconds=3600)
    # The join ran a cycle a moment ago: the next one is an hour away.
    assert not node.worker.due()
    node.worker.runtime.settings.sync_interval_seconds = 0.0
    assert node.worker.due()


async def test_a_node_ahead_of_time_keeps_its_edit_visible_over_pulled_changes(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1")
    made = await create(
        hub.client,
        "customers/",
        {"full_name": "Ahead", "phone": "+91 95555 55555", "officer_id": str(hub.officer.id)},
        hub.admin.headers,
    )
    await node.sync_until_quiet()
    node.worker.context.clock._physical_ms = lambda: wall_clock_ms() + 120_000
    mine = await get(node.client, f"customers/{made['id']}", node.headers)
    answer = await node.client.put(
        f"{API}/customers/{made['id']}",
        json={"version": mine["version"], "address": "Ahead Road"},
        headers=node.headers,
    )
    assert answer.status_code == 200
    theirs = await get(hub.client, f"customers/{made['id']}", hub.admin.headers)
    answer = await hub.client.put(
        f"{API}/customers/{made['id']}",
        json={"version": theirs["version"], "phone": "+91 95555 66666"},
        headers=hub.admin.headers,
    )
    assert answer.status_code == 200

    report = await node.sync()  # the hub refuses a timestamp two minutes ahead, for now
    assert report.pulled >= 1
    status = await get(node.client, f"sync/status/customer/{made['id']}", node.headers)
    assert (status["status"], status["last_error"].split(":")[0]) == ("pending", "clock_drift")
    on_node = await get(node.client, f"customers/{made['id']}", node.headers)
    assert (on_node["phone"], on_node["address"]) == ("+91 95555 66666", "Ahead Road")
    # The edit waits (with backoff) until the hub's time passes its stamp less a minute.


async def test_a_customer_edited_after_their_loan_was_made_reaches_a_new_node(
    hub: Hub, field_node: NodeFactory
) -> None:
    # The customer's newest change comes after the loan's in the change log: the node must
    # still write the customer first.
    officer = hub.officer.headers
    customer = await create(
        hub.client, "customers/", {"full_name": "Ravi Stores", "phone": "+91 90000 11111"}, officer
    )
    loan = await create(
        hub.client,
        "loans/",
        {
            "customer_id": customer["id"],
            "principal": "5000.00",
            "annual_rate": "12",
            "installments": 6,
            "expected_disbursement_date": today(),
        },
        officer,
    )
    answer = await hub.client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": customer["version"], "full_name": "Ravi General Stores"},
        headers=officer,
    )
    assert answer.status_code == 200, answer.text

    node = await field_node("laptop-1")

    assert (await get(node.client, f"loans/{loan['id']}", node.headers))["status"] == "draft"
    on_node = await get(node.client, f"customers/{customer['id']}", node.headers)
    assert on_node["full_name"] == "Ravi General Stores"


async def test_an_outbox_larger_than_a_batch_goes_in_several_and_every_answer_is_applied(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("laptop-1", sync_batch_min=2, sync_batch_initial=2, sync_batch_max=3)
    for number in range(7):
        await create(
            node.client,
            "customers/",
            {"full_name": f"Shop {number}", "phone": "+91 98765 43210"},
            node.headers,
        )
    report = await node.sync()
    assert (report.error, report.pushed, report.failures) == (None, 7, 0)

    async def stamps(app: Any) -> dict[Any, str]:
        async with app.state.runtime.db.sessionmaker() as session:
            rows = await session.execute(select(Customer.id, Customer.updated_hlc))
            return {key: stamp for key, stamp in rows}

    # Each batch's answer was applied: the node holds the hub's stamp of every row.
    on_node, at_hub = await stamps(node.app), await stamps(hub.app)
    assert len(on_node) == 7
    assert on_node == {key: at_hub[key] for key in on_node}
    async with node.app.state.runtime.db.sessionmaker() as session:
        statuses = (await session.execute(select(SyncItem.status))).scalars().all()
    assert set(statuses) == {ItemStatus.SYNCED}


async def test_a_synced_payment_is_announced_with_its_currencys_places(
    hub: Hub, field_node: NodeFactory
) -> None:
    customer = await create(
        hub.client,
        "customers/",
        {
            "full_name": "Places Traders",
            "phone": "+91 90000 77777",
            "officer_id": str(hub.officer.id),
        },
        hub.admin.headers,
    )
    body = {
        "customer_id": customer["id"],
        "principal": "12000.00",
        "annual_rate": "12",
        "installments": 12,
        "expected_disbursement_date": today(),
    }
    loan = await create(hub.client, "loans/", body, hub.officer.headers)
    await create(hub.client, f"loans/{loan['id']}/submit", {}, hub.officer.headers)
    await create(hub.client, f"loans/{loan['id']}/approve", {}, hub.admin.headers)
    await create(hub.client, f"loans/{loan['id']}/disburse", {}, hub.admin.headers)
    node = await field_node("laptop-1")
    payment = {"loan_id": loan["id"], "amount": "200", "paid_on": today(), "method": "cash"}
    await create(node.client, "payments/", payment, node.headers)
    await node.sync_until_quiet()

    history = await hub.app.state.runtime.realtime.broker.history(
        f"officer:{hub.officer.id}", since=0
    )
    received = [
        p.payload["data"] for p in history.publications if p.payload["type"] == "payment_received"
    ]
    assert [r["amount"] for r in received] == ["200.00"]
