"""Who sees what: officers their own clients and projects, their clients' work and what they
are assigned; another officer's rows do not exist for them; admins see everything."""

from __future__ import annotations

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoginAs
from tests.crm.conftest import Crm


async def test_another_officers_rows_are_404_and_absent_from_lists(crm: Crm) -> None:
    client = await crm.client()
    project = await crm.project(client_id=client["id"])
    task = await crm.task(project["id"])

    for path in (f"clients/{client['id']}", f"projects/{project['id']}", f"tasks/{task['id']}"):
        assert (await crm.get(path, crm.other)).status_code == 404
        assert (await crm.get(path, crm.admin)).status_code == 200
    for path in ("clients", "projects", "tasks"):
        assert (await crm.get(path, crm.other)).json()["total"] == 0
        assert (await crm.get(path, crm.admin)).json()["total"] == 1


async def test_an_assignee_sees_the_task_and_its_project_but_not_the_client(crm: Crm) -> None:
    client = await crm.client()
    project = await crm.project(client_id=client["id"])
    task = await crm.task(project["id"], assignee_id=str(crm.other.id))
    await crm.task(project["id"], title="Not theirs")

    tasks = (await crm.get("tasks", crm.other)).json()
    seen_project = await crm.get(f"projects/{project['id']}", crm.other)
    seen_client = await crm.get(f"clients/{client['id']}", crm.other)
    edit_project = await crm.send(
        "PUT", f"projects/{project['id']}", crm.other, version=1, name="x"
    )

    assert [t["id"] for t in tasks["items"]] == [task["id"]]
    assert seen_project.status_code == 200
    assert seen_client.status_code == 404
    assert edit_project.status_code == 403


async def test_an_officer_sees_projects_for_their_clients_whoever_owns_them(crm: Crm) -> None:
    client = await crm.client()
    project = await crm.project(crm.admin, client_id=client["id"])

    seen = await crm.get(f"projects/{project['id']}")
    task = await crm.send("POST", "tasks", title="Follow up", project_id=project["id"])

    assert seen.status_code == 200
    assert task.status_code == 201


async def test_an_officer_cannot_file_a_project_under_someone_elses_client(crm: Crm) -> None:
    client = await crm.client(crm.other)

    answer = await crm.send("POST", "projects", name="x", client_id=client["id"])

    assert answer.status_code == 404


async def test_borrowers_get_403_on_every_crm_list(crm: Crm, login_as: LoginAs) -> None:
    borrower = await login_as(Role.CUSTOMER)

    for path in ("clients", "projects", "tasks", "comments", f"users/{borrower.id}/tasks"):
        assert (await crm.get(path, borrower)).status_code == 403
