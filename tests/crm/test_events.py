"""The CRM's events name who hears them."""

from __future__ import annotations

from bazaar.crm.events import CommentAdded, TaskAssigned
from bazaar.realtime.routing import audience_channels


def test_a_comment_goes_to_its_recipients_and_an_assignment_to_the_assignee() -> None:
    comment = CommentAdded(
        comment_id="c", entity_type="task", entity_id="t", author_id="a", recipients=("o", "u")
    )
    assigned = TaskAssigned(task_id="t", project_id="p", assignee_id="u", by="o")

    assert audience_channels(comment.audience()) == ["user:o", "user:u"]
    assert audience_channels(assigned.audience()) == ["user:u"]
