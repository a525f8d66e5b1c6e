"""A conflict's lifecycle, change-log compaction and the link's status with a real hub and a
real field node (`bazaar serve` each, own database), driven over HTTP and WebSocket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.realtime.realtime_support import Socket, open_socket
from tests.sync.cluster import (
    Bazaar,
    Cluster,
    Officer,
    application,
    assert_converged,
    call,
    customer,
    make_user,
    sync_until_quiet,
)

pytestmark = [pytest.mark.slow, pytest.mark.officers(1)]


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def node_of(cluster: Cluster) -> tuple[Officer, Bazaar, dict[str, str]]:
    officer = cluster.officers[0]
    assert officer.node_headers is not None
    return officer, officer.node, officer.node_headers


async def sync_news(socket: Socket) -> list[dict[str, Any]]:
    """The `sync_status` notifications that arrived, waiting briefly for stragglers."""
    told: list[dict[str, Any]] = []
    while True:
        try:
            message = await socket.next(wait=0.5)
        except TimeoutError:
            return told
        if message["type"] == "sync_status":
            told.append(message["data"])


async def officer_history_size(officer: Officer) -> int:
    assert officer.node_headers is not None
    async with open_socket(officer.node.url, token(officer.node_headers)) as socket:
        return int(socket.welcome["channels"][f"officer:{officer.id}"]["offset"])


async def test_a_conflict_resolved_at_the_hub_closes_on_the_node_and_overrides_are_told(
    cluster: Cluster,
) -> None:
    hub, admin = cluster.hub, cluster.admin
    officer, node, headers = node_of(cluster)
    shop = await customer(node, headers, "Offline Textiles")
    loan = await application(node, headers, shop["id"])
    await sync_until_quiet(officer)
    submitted = await call(node, "GET", f"loans/{loan['id']}", headers)
    body = {"version": submitted["version"], "principal": "30000.00"}
    await call(node, "PUT", f"loans/{loan['id']}", headers, body)
    await call(hub, "POST", f"loans/{loan['id']}/approve", admin)

    report = await call(node, "POST", "sync/batch", headers)
    [open_on_node] = (await call(node, "GET", "sync/conflicts", headers))["items"]
    parked = await call(node, "GET", f"sync/status/loan/{loan['id']}", headers)
    refused = await call(
        node,
        "POST",
        f"sync/conflicts/{open_on_node['id']}/resolve",
        headers,
        {"choice": "remote"},
        ok=(409,),
    )
    assert report["conflicts"] == 1
    assert parked["status"] == "conflict"
    assert open_on_node["entity_id"] == loan["id"]
    assert open_on_node["fields"]["principal"]["client"] == "30000"
    assert open_on_node["fields"]["principal"]["server"] == "24000"
    assert refused["error"]["code"] == "resolve_at_hub"

    body = {"choice": "merged", "values": {"principal": "27000"}}
    resolve = f"sync/conflicts/{open_on_node['id']}/resolve"
    resolved = await call(hub, "POST", resolve, officer.hub_headers, body)
    assert resolved["status"] == "resolved"
    await sync_until_quiet(officer)
    counts = await call(node, "GET", "sync/pending-count", headers)
    summary = await call(node, "GET", "dashboard/sync-summary", headers)
    closed = await call(node, "GET", f"sync/status/loan/{loan['id']}", headers)
    on_node = await call(node, "GET", f"loans/{loan['id']}", headers)
    assert (await call(node, "GET", "sync/conflicts", headers))["items"] == []
    assert (counts["conflict"], summary["open_conflicts"], closed["status"]) == (0, 0, "synced")
    assert (on_node["status"], on_node["principal"]) == ("approved", "27000.00")

    # A phone edited on the laptop, then at the hub: the newer hub value stays, and the
    # officer is told which of their edits it set aside.
    on_node_shop = await call(node, "GET", f"customers/{shop['id']}", headers)
    mine = {"version": on_node_shop["version"], "phone": "+91 90000 33333"}
    await call(node, "PUT", f"customers/{shop['id']}", headers, mine)
    at_hub = await call(hub, "GET", f"customers/{shop['id']}", admin)
    later = {"version": at_hub["version"], "phone": "+91 90000 22222"}
    await call(hub, "PUT", f"customers/{shop['id']}", admin, later)
    async with open_socket(node.url, token(headers)) as socket:
        await sync_until_quiet(officer)
        told = [t for t in await sync_news(socket) if t["phase"] == "overridden"]

    assert [t["entity_id"] for t in told] == [shop["id"]]
    assert told[0]["fields"]["phone"] == {"yours": "+91 90000 33333", "kept": "+91 90000 22222"}
    kept = await call(node, "GET", f"customers/{shop['id']}", headers)
    assert kept["phone"] == "+91 90000 22222"


async def test_a_node_behind_the_compacted_log_bootstraps_its_scope_again(
    cluster: Cluster,
) -> None:
    hub, admin = cluster.hub, cluster.admin
    officer, node, headers = node_of(cluster)
    successor = await make_user(cluster.hub, "successor@hq.test", "officer")
    made = {
        name: await customer(hub, officer.hub_headers, name)
        for name in ("Staying Put", "Moving Away", "Closing Down")
    }
    await sync_until_quiet(officer)
    listed = await call(node, "GET", "customers/", headers)
    assert {c["full_name"] for c in listed["items"]} == set(made)

    # While the laptop is away: one borrower edited, one moved to another officer, one deleted.
    staying, moving = made["Staying Put"], made["Moving Away"]
    current = await call(hub, "GET", f"customers/{staying['id']}", admin)
    edit = {"version": current["version"], "address": "Nagpur"}
    await call(hub, "PUT", f"customers/{staying['id']}", admin, edit)
    current = await call(hub, "GET", f"customers/{moving['id']}", admin)
    move = {"version": current["version"], "officer_id": successor}
    await call(hub, "PUT", f"customers/{moving['id']}", admin, move)
    await call(hub, "DELETE", f"customers/{made['Closing Down']['id']}", admin, ok=(204,))
    # The deletion's entry is each row's latest, older than the horizon: compaction drops it,
    # so only a fresh bootstrap can tell the laptop.
    compacted = json.loads(
        (await hub.cli("sync", "compact", "--retention-days", "0")).splitlines()[-1]
    )
    assert compacted["removed"] > 0

    await sync_until_quiet(officer)
    listed = await call(node, "GET", "customers/", headers)
    assert [(c["full_name"], c["address"]) for c in listed["items"]] == [("Staying Put", "Nagpur")]
    await assert_converged(cluster)
    status = json.loads(await node.cli("sync", "status"))
    head = (await call(hub, "GET", "dashboard/sync-summary", admin))["change_log_head"]
    assert status["pull_cursor"] == head


async def test_the_link_is_offline_at_once_back_at_once_and_only_news_is_told(
    cluster: Cluster,
) -> None:
    hub, admin = cluster.hub, cluster.admin
    officer, node, headers = node_of(cluster)
    before = await officer_history_size(officer)
    async with (
        open_socket(node.url, token(headers)) as on_node,
        open_socket(hub.url, token(admin)) as at_hub,
    ):
        await customer(node, headers, "Heard Of")
        for _ in range(3):  # one with work, two idle
            assert (await call(node, "POST", "sync/batch", headers))["error"] is None
        pushed = await sync_news(at_hub)

        await hub.stop()
        failed = await call(node, "POST", "sync/batch", headers)
        down = await call(node, "GET", "sync/network-status", headers)
        for _ in range(2):
            await call(node, "POST", "sync/batch", headers)
        await hub.start()
        back_report = await call(node, "POST", "sync/batch", headers)
        back = await call(node, "GET", "sync/network-status", headers)
        for _ in range(2):  # idle again
            await call(node, "POST", "sync/batch", headers)
        told = await sync_news(on_node)
    at_hub_status = await call(hub, "GET", "sync/network-status", admin)
    after = await officer_history_size(officer)

    assert failed["error"] is not None
    assert down["quality"] == "offline"  # one failed attempt is enough
    assert back_report["error"] is None
    assert back["quality"] in ("excellent", "good")
    assert back["loss"] == 0.0
    assert [t["phase"] for t in told] == ["completed", "failed", "online"]
    assert told[0]["pushed"] == 1
    assert after - before == 3  # idle cycles left nothing in the officer's history
    assert [(p["node_id"], p["phase"], p["applied"]) for p in pushed] == [("laptop-1", "pushed", 1)]
    assert (at_hub_status["role"], at_hub_status["quality"], at_hub_status["loss"]) == (
        "hub",
        None,
        None,
    )
    [contact] = at_hub_status["nodes"]
    assert contact["node_id"] == "laptop-1"
    assert contact["user_id"] == officer.id
    assert contact["last_seen_at"] is not None
    assert contact["last_sync_at"] is not None
