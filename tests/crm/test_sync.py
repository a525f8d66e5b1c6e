"""CRM rows reach the field node of the officer who owns them through the existing sync, and
a node's offline work reaches the hub, merged by the rules of crm/sync.py."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sync.conftest import API, Hub, NodeFactory, field_node, hub

__all__ = ["field_node", "hub"]  # the sync suite's fixtures, used here as they are


async def _post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    answer = await http.post(f"{API}/{path}", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_offline_crm_work_reaches_the_hub_and_hub_work_the_node(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("crm-laptop")
    client = await _post(node.client, "clients", {"name": "Asha Traders"}, node.headers)
    project = await _post(
        node.client, "projects", {"name": "Expansion", "client_id": client["id"]}, node.headers
    )
    task = await _post(
        node.client, "tasks", {"title": "Visit", "project_id": project["id"]}, node.headers
    )
    await _post(
        node.client,
        "comments",
        {"content": "Met the owner", "entity_type": "task", "entity_id": task["id"]},
        node.headers,
    )
    await node.sync_until_quiet()

    at_hub = await hub.client.get(f"{API}/tasks/{task['id']}", headers=hub.officer.headers)
    comments = await hub.client.get(
        f"{API}/comments", params={"entity_id": task["id"]}, headers=hub.officer.headers
    )
    assert at_hub.status_code == 200, at_hub.text
    assert comments.json()["total"] == 1

    moved = await hub.client.patch(
        f"{API}/tasks/{task['id']}/status", json={"status": "done"}, headers=hub.officer.headers
    )
    assert moved.status_code == 200, moved.text
    await node.sync_until_quiet()

    on_node = await node.client.get(f"{API}/tasks/{task['id']}", headers=node.headers)
    assert on_node.json()["status"] == "done"


async def test_another_officers_clients_never_reach_the_node(
    hub: Hub, field_node: NodeFactory
) -> None:
    node = await field_node("crm-laptop-2")
    await _post(hub.client, "clients", {"name": "Not theirs"}, hub.admin.headers)
    await _post(
        hub.client,
        "clients",
        {"name": "Theirs", "owner_id": str(hub.officer.id)},
        hub.admin.headers,
    )
    await node.sync_until_quiet()

    listed = (await node.client.get(f"{API}/clients", headers=node.headers)).json()

    assert [c["name"] for c in listed["items"]] == ["Theirs"]
