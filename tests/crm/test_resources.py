"""CRUD of the four resources: pages with totals, filters, versions, soft deletes."""

from __future__ import annotations

from datetime import timedelta

from bazaar.stamps import utcnow
from tests.crm.conftest import Crm


async def test_a_client_is_created_read_updated_and_soft_deleted(crm: Crm) -> None:
    made = await crm.client(email="asha@example.com", phone="+91 98765 43210")
    assert made["owner_id"] == str(crm.officer.id)
    assert made["version"] == 1

    updated = await crm.send("PUT", f"clients/{made['id']}", version=1, notes="Prefers calls")
    stale = await crm.send("PUT", f"clients/{made['id']}", version=1, notes="Overwrite")
    deleted = await crm.send("DELETE", f"clients/{made['id']}")
    after = await crm.get(f"clients/{made['id']}")

    assert updated.status_code == 200
    assert updated.json()["version"] == 2
    assert updated.json()["notes"] == "Prefers calls"
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert deleted.status_code == 204
    assert after.status_code == 404
    assert (await crm.get("clients")).json()["total"] == 0


async def test_lists_page_with_their_total_and_filter(crm: Crm) -> None:
    for number in range(5):
        await crm.client(name=f"Client {number}", company="Acme" if number % 2 else None)

    first = (await crm.get("clients", limit=2)).json()
    last = (await crm.get("clients", limit=2, offset=4)).json()
    acme = (await crm.get("clients", q="acme")).json()

    assert first["total"] == 5
    assert len(first["items"]) == 2
    assert len(last["items"]) == 1
    assert acme["total"] == 2


async def test_projects_filter_by_status_client_and_owner(crm: Crm) -> None:
    client = await crm.client()
    await crm.project(client_id=client["id"], status="active")
    await crm.project(status="planned")
    await crm.project(crm.other, status="active")

    active = (await crm.get("projects", status="active")).json()
    of_client = (await crm.get(f"clients/{client['id']}/projects")).json()
    owned = (await crm.get(f"users/{crm.officer.id}/projects")).json()
    everything = (await crm.get("projects", crm.admin, owner_id=str(crm.other.id))).json()

    assert active["total"] == 1
    assert of_client["total"] == 1
    assert of_client["items"][0]["client_id"] == client["id"]
    assert owned["total"] == 2
    assert everything["total"] == 1


async def test_tasks_filter_by_status_assignee_project_and_overdue(crm: Crm) -> None:
    project = await crm.project()
    other_project = await crm.project()
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    late = await crm.task(project["id"], due_date=yesterday, assignee_id=str(crm.other.id))
    done = await crm.task(project["id"], due_date=yesterday, title="Done late")
    await crm.send("PATCH", f"tasks/{done['id']}/status", status="done")
    await crm.task(other_project["id"])

    overdue = (await crm.get("tasks", overdue="true")).json()
    in_project = (await crm.get(f"projects/{project['id']}/tasks")).json()
    assigned = (await crm.get(f"users/{crm.other.id}/tasks")).json()
    by_status = (await crm.get("tasks", status="done")).json()
    filtered = (await crm.get("tasks", project_id=other_project["id"])).json()

    assert [t["id"] for t in overdue["items"]] == [late["id"]]
    assert in_project["total"] == 2
    assert [t["id"] for t in assigned["items"]] == [late["id"]]
    assert by_status["total"] == 1
    assert filtered["total"] == 1


async def test_a_client_with_live_projects_is_not_deleted(crm: Crm) -> None:
    client = await crm.client()
    project = await crm.project(client_id=client["id"])

    refused = await crm.send("DELETE", f"clients/{client['id']}")
    await crm.send("DELETE", f"projects/{project['id']}")
    accepted = await crm.send("DELETE", f"clients/{client['id']}")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "has_live_children"
    assert accepted.status_code == 204


async def test_unknown_fields_and_customer_owners_are_refused(crm: Crm) -> None:
    extra = await crm.send("POST", "clients", name="X", status="vip")
    customer_owner = await crm.send("POST", "clients", crm.admin, name="X", owner_id="0" * 32)

    assert extra.status_code == 422
    assert customer_owner.status_code == 422


async def test_a_nul_character_is_bad_input_on_every_backend(crm: Crm) -> None:
    body = await crm.send("POST", "clients", name="Asha\x00Traders")
    query = await crm.get("clients", q="a\x00")

    assert body.status_code == 422
    assert query.status_code == 422
