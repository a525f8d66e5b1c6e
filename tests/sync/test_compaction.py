"""Change-log compaction at the hub, and a node whose cursor it overtook."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from tests.auth_fixtures import LoginAs
from tests.sync.conftest import API, Hub, NodeFactory

from bazaar.auth.roles import Role
from bazaar.stamps import utcnow
from bazaar.sync.compaction import compact
from bazaar.sync.hlc import HLC
from bazaar.sync.models import ChangeLog


async def _put(
    client: httpx.AsyncClient, path: str, body: dict[str, object], headers: dict[str, str]
) -> dict[str, object]:
    answer = await client.put(f"{API}/{path}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _entries(hub: Hub, entity_id: str) -> list[ChangeLog]:
    async with hub.app.state.runtime.db.sessionmaker() as session:
        found = await session.execute(
            select(ChangeLog)
            .where(ChangeLog.entity_id == uuid.UUID(entity_id))
            .order_by(ChangeLog.seq)
        )
        return list(found.scalars())


async def test_compaction_keeps_each_rows_latest_change_with_every_field_clock(hub: Hub) -> None:
    made = await hub.client.post(
        f"{API}/customers/",
        json={
            "full_name": "Kiran Metals",
            "phone": "+91 90000 11111",
            "officer_id": str(hub.officer.id),
        },
        headers=hub.admin.headers,
    )
    assert made.status_code == 201, made.text
    customer = made.json()
    path = f"customers/{customer['id']}"
    edited = await _put(
        hub.client,
        path,
        {"version": customer["version"], "phone": "+91 90000 22222"},
        hub.admin.headers,
    )
    await _put(
        hub.client, path, {"version": edited["version"], "address": "Nagpur"}, hub.admin.headers
    )
    before = await _entries(hub, customer["id"])
    clocks: dict[str, HLC] = {}
    for entry in before:
        for name, stamp in entry.fields.items():
            clocks[name] = max(clocks.get(name, HLC.decode(stamp)), HLC.decode(stamp))

    async with hub.app.state.runtime.db.sessionmaker() as session, session.begin():
        done = await compact(session=session, before=utcnow() + timedelta(minutes=1))
    (kept,) = await _entries(hub, customer["id"])

    assert len(before) == 3
    assert done.removed >= 2
    assert kept.seq == before[-1].seq
    assert kept.data == before[-1].data
    assert {name: HLC.decode(stamp) for name, stamp in kept.fields.items()} == clocks


async def test_a_node_behind_the_horizon_rebootstraps_and_drops_what_left_its_scope(
    hub: Hub, field_node: NodeFactory, login_as: LoginAs
) -> None:
    other = await login_as(Role.OFFICER)
    node = await field_node("laptop-1")
    moving = await node.client.post(
        f"{API}/customers/",
        json={"full_name": "Leaving Soon", "phone": "+91 90000 44444"},
        headers=node.headers,
    )
    staying = await node.client.post(
        f"{API}/customers/",
        json={"full_name": "Staying Put", "phone": "+91 90000 55555"},
        headers=node.headers,
    )
    assert moving.status_code == staying.status_code == 201
    await node.sync_until_quiet()
    at_hub = (
        await hub.client.get(f"{API}/customers/{moving.json()['id']}", headers=hub.admin.headers)
    ).json()
    await _put(
        hub.client,
        f"customers/{at_hub['id']}",
        {"version": at_hub["version"], "officer_id": str(other.id)},
        hub.admin.headers,
    )
    async with hub.app.state.runtime.db.sessionmaker() as session, session.begin():
        await compact(session=session, before=utcnow() + timedelta(minutes=1))

    await node.sync_until_quiet()
    listed = await node.client.get(f"{API}/customers/", headers=node.headers)
    names = {c["full_name"] for c in listed.json()["items"]}

    assert names == {"Staying Put"}
