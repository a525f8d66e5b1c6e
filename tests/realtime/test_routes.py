"""Presence, broadcast and metrics over HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from fastapi import FastAPI
from tests.auth_fixtures import LoginAs
from tests.realtime.realtime_support import open_socket

from bazaar.auth.roles import Role
from bazaar.events import Audience
from bazaar.realtime.service import notify

API = "/api/v1"


async def test_broadcast_answers_with_the_channel_position(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    body = {"message": "Down for upgrade at 22:00 UTC", "severity": "warning"}

    first = await client.post(f"{API}/notifications/broadcast", json=body, headers=admin.headers)
    second = await client.post(f"{API}/notifications/broadcast", json=body, headers=admin.headers)

    assert first.status_code == 202
    assert first.json()["channel"] == "broadcast"
    assert second.json()["offset"] == first.json()["offset"] + 1


async def test_broadcast_refuses_unknown_fields(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)

    answer = await client.post(
        f"{API}/notifications/broadcast",
        json={"message": "x", "channel": "user:someone"},
        headers=admin.headers,
    )

    assert answer.status_code == 422


async def test_nobody_is_online_without_sockets(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)

    counts = await client.get(f"{API}/ws/active-connections", headers=admin.headers)
    presence = await client.get(f"{API}/ws/presence", headers=admin.headers)

    assert counts.json() == {"total_connections": 0, "online_users": 0, "this_worker": 0}
    assert presence.json() == {"users": []}


async def test_metrics_count_connections_messages_and_recoveries(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with open_socket(live_server, customer.access_token) as socket:
        position = socket.welcome["channels"]["broadcast"]
        since = {"broadcast": position["offset"]}
        await socket.send({"type": "resume", "since": since, "epoch": position["epoch"]})
        await socket.until("recovered")
        await socket.send({"type": "resume", "since": since, "epoch": "gone"})
        await socket.until("recovered")
        text = (await http.get("/metrics")).text

    assert "bazaar_ws_connections 1.0" in text
    assert 'bazaar_ws_recoveries_total{result="hit"} 1.0' in text
    assert 'bazaar_ws_recoveries_total{result="miss"} 1.0' in text
    assert "bazaar_ws_messages_sent_total 3.0" in text


async def test_notify_publishes_to_each_named_audience_once(app: FastAPI) -> None:
    user, officer = uuid.uuid4(), uuid.uuid4()

    sent = await notify(
        app.state.runtime,
        type="comment_added",
        data={"comment_id": uuid.uuid4(), "amount": Decimal("12.50")},
        audience=Audience(
            users=(str(user), str(user)), officers=(str(officer),), roles=(Role.ADMIN.value,)
        ),
    )

    assert [p.channel for p in sent] == [f"user:{user}", f"officer:{officer}", "role:admin"]
    assert sent[0].payload["data"]["amount"] == "12.50"
    history = await app.state.runtime.realtime.broker.history(f"user:{user}", since=0)
    assert [p.payload["type"] for p in history.publications] == ["comment_added"]
