"""Three-way detection and the four strategies: a field changed on both sides gets each
strategy's documented result, a field changed on one side never conflicts, MANUAL_REVIEW
parks the record and resolving writes both sides."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.crm.mirror.conftest import Mirror


async def _synced_client(mirror: Mirror) -> tuple[dict[str, Any], str]:
    local = await mirror.crm.client(mirror.crm.admin, name="Asha Traders", phone="+100001")
    await mirror.sync()
    return local, mirror.remote_by_bazaar_id("clients", local["id"])["id"]


async def _edit_local(mirror: Mirror, client_id: str, **fields: Any) -> None:
    current = await mirror.local(f"clients/{client_id}")
    assert current is not None
    answer = await mirror.crm.send(
        "PUT", f"clients/{client_id}", mirror.crm.admin, version=current["version"], **fields
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("strategy", ["API_WINS", "DB_WINS", "LATEST_TIMESTAMP", "MANUAL_REVIEW"])
async def test_a_field_changed_on_one_side_never_conflicts(mirror: Mirror, strategy: str) -> None:
    await mirror.configure(strategy=strategy)
    local, remote_id = await _synced_client(mirror)

    await _edit_local(mirror, local["id"], phone="+200002")
    mirror.fake.put("clients", id=remote_id, name="Asha Traders Ltd")
    run = await mirror.sync()

    after = await mirror.local(f"clients/{local['id']}")
    assert after is not None
    assert (after["name"], after["phone"]) == ("Asha Traders Ltd", "+200002")
    remote = mirror.remote("clients", remote_id)
    assert (remote["name"], remote["phone"]) == ("Asha Traders Ltd", "+200002")
    assert run["conflicts"] == 0
    assert await mirror.conflicts() == []


@pytest.mark.parametrize(
    ("strategy", "local_first", "winner"),
    [
        ("API_WINS", True, "remote"),
        ("API_WINS", False, "remote"),
        ("DB_WINS", True, "local"),
        ("DB_WINS", False, "local"),
        ("LATEST_TIMESTAMP", True, "remote"),
        ("LATEST_TIMESTAMP", False, "local"),
    ],
)
async def test_each_strategy_for_a_field_changed_on_both_sides(
    mirror: Mirror, strategy: str, local_first: bool, winner: str
) -> None:
    await mirror.configure(strategy=strategy, skew_seconds=0.3)
    local, remote_id = await _synced_client(mirror)

    for side in ("local", "remote") if local_first else ("remote", "local"):
        if side == "local":
            await _edit_local(mirror, local["id"], name="Local name")
        else:
            mirror.fake.put("clients", id=remote_id, name="Remote name")
        await asyncio.sleep(0.5)
    run = await mirror.sync()

    expected = "Local name" if winner == "local" else "Remote name"
    after = await mirror.local(f"clients/{local['id']}")
    assert after is not None
    assert after["name"] == mirror.remote("clients", remote_id)["name"] == expected
    assert run["conflicts"] == 0


async def test_latest_timestamp_within_the_skew_goes_to_review(mirror: Mirror) -> None:
    await mirror.configure(strategy="LATEST_TIMESTAMP", skew_seconds=60)
    local, remote_id = await _synced_client(mirror)

    await _edit_local(mirror, local["id"], name="Local name")
    mirror.fake.put("clients", id=remote_id, name="Remote name")
    run = await mirror.sync()

    [conflict] = await mirror.conflicts(status="open")
    assert run["conflicts"] == 1
    assert conflict["fields"] == [
        {"field": "name", "base": "Asha Traders", "local": "Local name", "remote": "Remote name"}
    ]


async def test_a_field_override_beats_the_connection_strategy(mirror: Mirror) -> None:
    await mirror.configure(strategy="API_WINS", strategies={"clients.phone": "DB_WINS"})
    local, remote_id = await _synced_client(mirror)

    await _edit_local(mirror, local["id"], name="Local name", phone="+300003")
    mirror.fake.put("clients", id=remote_id, name="Remote name", phone="+400004")
    await mirror.sync()

    remote = mirror.remote("clients", remote_id)
    assert (remote["name"], remote["phone"]) == ("Remote name", "+300003")


async def test_manual_review_parks_and_resolve_writes_both_sides(mirror: Mirror) -> None:
    await mirror.configure(strategy="MANUAL_REVIEW")
    local, remote_id = await _synced_client(mirror)
    await _edit_local(mirror, local["id"], name="Local name", phone="+900009")
    mirror.fake.put("clients", id=remote_id, name="Remote name", email="new@example.com")

    run = await mirror.sync()
    again = await mirror.sync()
    [conflict] = await mirror.conflicts(status="open", entity="clients")
    parked = await mirror.local(f"clients/{local['id']}")
    detail = await mirror.crm.get(f"crm/conflicts/{conflict['id']}", mirror.crm.admin)
    bad = await mirror.crm.send(
        "POST",
        f"crm/conflicts/{conflict['id']}/resolve",
        mirror.crm.admin,
        choice="merged",
        values={"phone": "+000000"},
    )
    resolved = await mirror.crm.send(
        "POST",
        f"crm/conflicts/{conflict['id']}/resolve",
        mirror.crm.admin,
        choice="merged",
        values={"name": "Agreed name"},
    )
    twice = await mirror.crm.send(
        "POST", f"crm/conflicts/{conflict['id']}/resolve", mirror.crm.admin, choice="local"
    )
    quiet = await mirror.sync()

    assert (run["conflicts"], len(await mirror.conflicts())) == (1, 1)
    assert again["conflicts"] == 0  # parked once, not counted again
    assert parked is not None
    assert (parked["name"], parked["phone"], parked["email"]) == (
        "Local name",
        "+900009",
        "new@example.com",
    )
    assert detail.json()["fields"] == [
        {"field": "name", "base": "Asha Traders", "local": "Local name", "remote": "Remote name"}
    ]
    assert bad.status_code == 422
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert twice.status_code == 409
    after = await mirror.local(f"clients/{local['id']}")
    remote = mirror.remote("clients", remote_id)
    assert after is not None
    assert (after["name"], after["phone"]) == ("Agreed name", "+900009")
    assert (remote["name"], remote["phone"], remote["email"]) == (
        "Agreed name",
        "+900009",
        "new@example.com",
    )
    assert quiet["conflicts"] == quiet["pushed"] == quiet["updated"] == 0
