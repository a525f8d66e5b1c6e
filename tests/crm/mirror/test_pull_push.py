"""Pull and push against the fake CRM: rows are created once, users map by email, local rows
reach the CRM once, and a second run changes nothing."""

from __future__ import annotations

from tests.crm.mirror.conftest import Mirror


async def test_pull_creates_each_record_once_and_maps_users_by_email(mirror: Mirror) -> None:
    fake, officer = mirror.fake, mirror.crm.officer
    user = fake.put("users", email=officer.email.upper(), name="Officer")
    stranger = fake.put("users", email="nobody@example.com", name="Not a Bazaar user")
    client = fake.put("clients", name="Asha Traders", email="asha@example.com")
    project = fake.put(
        "projects", name="Expansion", status="active", client_id=client["id"], owner_id=user["id"]
    )
    task = fake.put(
        "tasks", title="Call back", project_id=project["id"], assignee_id=stranger["id"]
    )
    fake.put("comments", content="Spoke to Asha", entity_type="task", entity_id=task["id"])
    users_before = (await mirror.crm.get("users", mirror.crm.admin)).json()["total"]

    first = await mirror.sync()
    second = await mirror.sync()

    projects = await mirror.locals("projects")
    assert [(p["name"], p["status"], p["owner_id"]) for p in projects] == [
        ("Expansion", "active", str(officer.id))
    ]
    tasks = await mirror.locals("tasks")
    assert [(t["title"], t["assignee_id"]) for t in tasks] == [("Call back", None)]
    assert len(await mirror.locals("clients")) == 1
    assert (first["created"], second["created"], second["updated"]) == (4, 0, 0)
    assert (await mirror.crm.get("users", mirror.crm.admin)).json()["total"] == users_before


async def test_local_rows_reach_the_crm_once(mirror: Mirror) -> None:
    client = await mirror.crm.client(mirror.crm.admin, name="Baraka Ltd", phone="+254700000")
    project = await mirror.crm.project(mirror.crm.admin, client_id=client["id"])

    first = await mirror.sync()
    second = await mirror.sync()

    remote_client = mirror.remote_by_bazaar_id("clients", client["id"])
    remote_project = mirror.remote_by_bazaar_id("projects", project["id"])
    assert (remote_client["name"], remote_client["phone"]) == ("Baraka Ltd", "+254700000")
    assert remote_project["client_id"] == remote_client["id"]
    assert (first["pushed"], second["pushed"]) == (2, 0)
    assert len(mirror.fake.records["clients"]) == 1
