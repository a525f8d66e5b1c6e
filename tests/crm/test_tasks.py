"""Task rules: status moves (409 with the allowed ones), sub-tasks without cycles,
assignment by the project's managers."""

from __future__ import annotations

from fastapi import FastAPI

from tests.crm.conftest import Crm


async def test_an_illegal_status_move_lists_the_allowed_ones(crm: Crm) -> None:
    task = await crm.task((await crm.project())["id"])
    await crm.send("PATCH", f"tasks/{task['id']}/status", status="done")

    refused = await crm.send("PATCH", f"tasks/{task['id']}/status", status="blocked")
    reopened = await crm.send("PATCH", f"tasks/{task['id']}/status", status="in_progress")

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["details"]["allowed"] == ["in_progress"]
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "in_progress"


async def test_a_project_status_move_is_checked_too(crm: Crm) -> None:
    project = await crm.project()

    refused = await crm.send("PUT", f"projects/{project['id']}", version=1, status="completed")
    moved = await crm.send("PUT", f"projects/{project['id']}", version=1, status="active")

    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["allowed"] == ["active", "cancelled", "on_hold"]
    assert moved.status_code == 200
    assert moved.json()["version"] == 2


async def test_a_task_cannot_become_its_own_ancestor(crm: Crm) -> None:
    project = await crm.project()
    top = await crm.task(project["id"])
    middle = await crm.task(project["id"], parent_id=top["id"])
    bottom = await crm.task(project["id"], parent_id=middle["id"])

    loop = await crm.send("PUT", f"tasks/{top['id']}", version=1, parent_id=bottom["id"])
    itself = await crm.send("PUT", f"tasks/{top['id']}", version=1, parent_id=top["id"])
    moved = await crm.send("PUT", f"tasks/{bottom['id']}", version=1, parent_id=top["id"])

    assert loop.status_code == itself.status_code == 409
    assert loop.json()["error"]["code"] == "task_cycle"
    assert moved.status_code == 200
    assert moved.json()["parent_id"] == top["id"]


async def test_a_sub_task_stays_in_its_parents_project(crm: Crm) -> None:
    parent = await crm.task((await crm.project())["id"])
    elsewhere = await crm.project()

    answer = await crm.send(
        "POST", "tasks", title="x", project_id=elsewhere["id"], parent_id=parent["id"]
    )

    assert answer.status_code == 422


async def test_assignment_is_the_managers_and_the_assignee_moves_the_task(crm: Crm) -> None:
    task = await crm.task((await crm.project())["id"])

    assigned = await crm.send("PATCH", f"tasks/{task['id']}/assign", assignee_id=str(crm.other.id))
    moved = await crm.send("PATCH", f"tasks/{task['id']}/status", crm.other, status="in_progress")
    reassign = await crm.send("PATCH", f"tasks/{task['id']}/assign", crm.other, assignee_id=None)
    stale = await crm.send("PATCH", f"tasks/{task['id']}/assign", assignee_id=None, version=1)

    assert assigned.status_code == 200
    assert assigned.json()["assignee_id"] == str(crm.other.id)
    assert moved.status_code == 200
    assert reassign.status_code == 403
    assert reassign.json()["error"]["code"] == "not_manager"
    assert stale.status_code == 409


async def test_the_new_assignee_hears_of_the_assignment(crm: Crm, app: FastAPI) -> None:
    task = await crm.task((await crm.project())["id"])

    assigned = await crm.send("PATCH", f"tasks/{task['id']}/assign", assignee_id=str(crm.other.id))
    history = await app.state.runtime.realtime.broker.history(f"user:{crm.other.id}", since=0)

    assert assigned.status_code == 200
    heard = [p.payload for p in history.publications if p.payload["type"] == "task_assigned"]
    assert [h["data"]["task_id"] for h in heard] == [task["id"]]


async def test_a_task_with_live_sub_tasks_is_not_deleted(crm: Crm) -> None:
    project = await crm.project()
    parent = await crm.task(project["id"])
    child = await crm.task(project["id"], parent_id=parent["id"])

    refused = await crm.send("DELETE", f"tasks/{parent['id']}")
    await crm.send("DELETE", f"tasks/{child['id']}")
    accepted = await crm.send("DELETE", f"tasks/{parent['id']}")

    assert refused.status_code == 409
    assert accepted.status_code == 204
