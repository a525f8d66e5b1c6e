"""Use cases for comments. A comment is about one client, project or task the author can
see; only its author or an admin edits or deletes it. A new one tells the owner and the
assignees of what it is about."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.crm.errors import CommentNotFound, NotAuthor
from bazaar.crm.events import CommentAdded
from bazaar.crm.models import Comment, Task
from bazaar.crm.rules import EntityType
from bazaar.crm.schemas import CommentCreate, CommentUpdate
from bazaar.crm.scope import comments_visible
from bazaar.crm.service import check_version, client_of, get_client, get_project, page
from bazaar.crm.tasks import get_task
from bazaar.events import record_event
from bazaar.stamps import utcnow


async def get_comment(
    *, session: AsyncSession, principal: Principal, comment_id: uuid.UUID
) -> Comment:
    query = select(Comment).where(Comment.id == comment_id, comments_visible(principal))
    comment = (await session.execute(query)).scalar_one_or_none()
    if comment is None:
        raise CommentNotFound()
    return comment


async def list_comments(
    *,
    session: AsyncSession,
    principal: Principal,
    entity_type: EntityType | None,
    entity_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[Comment], int]:
    where = [comments_visible(principal)]
    if entity_type is not None:
        where.append(Comment.entity_type == entity_type)
    if entity_id is not None:
        where.append(Comment.entity_id == entity_id)
    return await page(session, Comment, where, limit=limit, offset=offset)


async def _people_of(
    session: AsyncSession, principal: Principal, kind: EntityType, entity_id: uuid.UUID
) -> tuple[uuid.UUID, set[uuid.UUID]]:
    """The owner of what a comment is about (loaded within the caller's scope, or 404) and
    everyone who should hear of it: owners and assignees."""
    if kind is EntityType.CLIENT:
        about = await get_client(session=session, principal=principal, client_id=entity_id)
        return about.owner_id, {about.owner_id}
    if kind is EntityType.TASK:
        task = await get_task(session=session, principal=principal, task_id=entity_id)
        project_id = task.project_id
        assignees = {task.assignee_id}
    else:
        project_id = entity_id
        rows = await session.execute(
            select(Task.assignee_id).where(Task.project_id == entity_id, Task.deleted_at.is_(None))
        )
        assignees = set(rows.scalars())
    project = await get_project(session=session, principal=principal, project_id=project_id)
    client = await client_of(session, project)
    people = {project.owner_id, *(a for a in assignees if a is not None)}
    if client is not None:
        people.add(client.owner_id)
    return project.owner_id, people


async def add_comment(
    *, session: AsyncSession, principal: Principal, data: CommentCreate
) -> Comment:
    owner_id, people = await _people_of(session, principal, data.entity_type, data.entity_id)
    comment = Comment(**data.model_dump(), author_id=principal.user_id, owner_id=owner_id)
    session.add(comment)
    await session.flush()
    recipients = sorted(str(p) for p in people - {principal.user_id})
    if recipients:
        record_event(
            session,
            CommentAdded(
                comment_id=str(comment.id),
                entity_type=comment.entity_type.value,
                entity_id=str(comment.entity_id),
                author_id=str(principal.user_id),
                recipients=tuple(recipients),
            ),
        )
    return comment


def _ensure_author(principal: Principal, comment: Comment) -> None:
    if principal.role is not Role.ADMIN and comment.author_id != principal.user_id:
        raise NotAuthor(details={"comment_id": str(comment.id)})


async def update_comment(
    *, session: AsyncSession, principal: Principal, comment: Comment, data: CommentUpdate
) -> Comment:
    check_version(comment, data.version)
    _ensure_author(principal, comment)
    comment.content = data.content
    await session.flush()
    return comment


async def delete_comment(*, session: AsyncSession, principal: Principal, comment: Comment) -> None:
    _ensure_author(principal, comment)
    comment.deleted_at = utcnow()
    await session.flush()
