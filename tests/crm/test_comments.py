"""Comments: about what the author can see, changed only by the author or an admin, heard
by the owner and the assignees."""

from __future__ import annotations

from bazaar.crm.events import CommentAdded
from bazaar.events import Event
from bazaar.realtime.routing import audience_channels
from tests.crm.conftest import Crm


async def test_a_comment_tells_the_owner_and_assignees_but_not_its_author(
    crm: Crm, published_events: list[Event]
) -> None:
    project = await crm.project()
    task = await crm.task(project["id"], assignee_id=str(crm.other.id))

    comment = await crm.create(
        "comments", crm.other, content="Done the visit", entity_type="task", entity_id=task["id"]
    )
    listed = (await crm.get("comments", entity_type="task", entity_id=task["id"])).json()

    assert comment["author_id"] == str(crm.other.id)
    assert [c["id"] for c in listed["items"]] == [comment["id"]]
    [event] = [e for e in published_events if isinstance(e, CommentAdded)]
    assert audience_channels(event.audience()) == [f"user:{crm.officer.id}"]


async def test_a_project_comment_reaches_every_assignee(
    crm: Crm, published_events: list[Event]
) -> None:
    project = await crm.project()
    await crm.task(project["id"], assignee_id=str(crm.other.id))

    await crm.create("comments", content="Kick-off", entity_type="project", entity_id=project["id"])

    [event] = [e for e in published_events if isinstance(e, CommentAdded)]
    assert event.recipients == (str(crm.other.id),)


async def test_only_the_author_or_an_admin_edits_or_deletes(crm: Crm) -> None:
    project = await crm.project()
    await crm.task(project["id"], assignee_id=str(crm.other.id))
    comment = await crm.create(
        "comments", crm.other, content="Mine", entity_type="project", entity_id=project["id"]
    )

    by_owner = await crm.send("PUT", f"comments/{comment['id']}", content="Edited", version=1)
    by_author = await crm.send(
        "PUT", f"comments/{comment['id']}", crm.other, content="Edited", version=1
    )
    by_admin = await crm.send("DELETE", f"comments/{comment['id']}", crm.admin)

    assert by_owner.status_code == 403
    assert by_owner.json()["error"]["code"] == "not_author"
    assert by_author.status_code == 200
    assert by_author.json()["version"] == 2
    assert by_admin.status_code == 204
    assert (await crm.get(f"comments/{comment['id']}", crm.admin)).status_code == 404


async def test_nobody_comments_on_what_they_cannot_see(crm: Crm) -> None:
    client = await crm.client()

    answer = await crm.send(
        "POST", "comments", crm.other, content="Hi", entity_type="client", entity_id=client["id"]
    )
    unseen = (await crm.get("comments", crm.other)).json()

    assert answer.status_code == 404
    assert unseen["total"] == 0
