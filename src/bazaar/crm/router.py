"""The CRM over HTTP: clients, projects, tasks and comments, and each user's work."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from bazaar.crm import comments, service, tasks
from bazaar.crm.dependencies import ClientDep, CommentDep, CrmUser, ProjectDep, TaskDep
from bazaar.crm.errors import (
    ClientNotFound,
    CommentNotFound,
    HasLiveChildren,
    IllegalTransition,
    NotAuthor,
    NotManager,
    ProjectNotFound,
    StaleVersion,
    TaskCycle,
    TaskNotFound,
)
from bazaar.crm.rules import EntityType, ProjectStatus, TaskStatus
from bazaar.crm.schemas import (
    NO_NUL,
    ClientCreate,
    ClientRead,
    ClientUpdate,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    Page,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
    TaskAssign,
    TaskCreate,
    TaskRead,
    TaskStatusChange,
    TaskUpdate,
)
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Limit, Offset
from bazaar.routing import Route

router = APIRouter(route_class=Route)

ReadT = TypeVar("ReadT", bound=BaseModel)


def _page(
    read: type[ReadT], found: tuple[Sequence[object], int], limit: int, offset: int
) -> Page[ReadT]:
    rows, total = found
    items = [read.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("/clients", status_code=201, tags=["crm"])
async def create_client(body: ClientCreate, session: SessionDep, principal: CrmUser) -> ClientRead:
    """A CRM client, owned by the caller (admins may name `owner_id`), optionally linked to a
    lending customer they can see."""
    client = await service.create_client(session=session, principal=principal, data=body)
    return ClientRead.model_validate(client)


@router.get("/clients", tags=["crm"])
async def list_clients(
    session: SessionDep,
    principal: CrmUser,
    q: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="Name or company")
    ] = None,
    owner_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ClientRead]:
    """Clients in the caller's scope, searched by name or company with `q`, a page at a time."""
    found = await service.list_clients(
        session=session, principal=principal, q=q, owner_id=owner_id, limit=limit, offset=offset
    )
    return _page(ClientRead, found, limit, offset)


@router.get("/clients/{client_id}", tags=["crm"], responses=error_responses(ClientNotFound))
async def get_client(client: ClientDep) -> ClientRead:
    """One client in the caller's scope; anyone else's is 404."""
    return ClientRead.model_validate(client)


@router.put(
    "/clients/{client_id}", tags=["crm"], responses=error_responses(ClientNotFound, StaleVersion)
)
async def update_client(
    body: ClientUpdate, client: ClientDep, session: SessionDep, principal: CrmUser
) -> ClientRead:
    """Change a client; `version` must be the one read. Only admins change `owner_id`."""
    updated = await service.update_client(
        session=session, principal=principal, client=client, data=body
    )
    return ClientRead.model_validate(updated)


@router.delete(
    "/clients/{client_id}",
    status_code=204,
    tags=["crm"],
    responses=error_responses(ClientNotFound, HasLiveChildren),
)
async def delete_client(client: ClientDep, session: SessionDep) -> Response:
    """Soft-delete a client without live projects (409 `has_live_children` otherwise)."""
    await service.delete_client(session=session, client=client)
    return Response(status_code=204)


@router.get(
    "/clients/{client_id}/projects", tags=["crm"], responses=error_responses(ClientNotFound)
)
async def client_projects(
    client: ClientDep,
    session: SessionDep,
    principal: CrmUser,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProjectRead]:
    """A client's projects, within the caller's scope, a page at a time."""
    found = await service.list_projects(
        session=session, principal=principal, client_id=client.id, limit=limit, offset=offset
    )
    return _page(ProjectRead, found, limit, offset)


@router.post("/projects", status_code=201, tags=["crm"], responses=error_responses(ClientNotFound))
async def create_project(
    body: ProjectCreate, session: SessionDep, principal: CrmUser
) -> ProjectRead:
    """A project, owned by the caller (admins may name `owner_id`), optionally for a client."""
    project = await service.create_project(session=session, principal=principal, data=body)
    return ProjectRead.model_validate(project)


@router.get("/projects", tags=["crm"])
async def list_projects(
    session: SessionDep,
    principal: CrmUser,
    status: ProjectStatus | None = None,
    client_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProjectRead]:
    """Projects in the caller's scope, filtered by `status`, `client_id` and `owner_id`, a page
    at a time."""
    found = await service.list_projects(
        session=session,
        principal=principal,
        status=status,
        client_id=client_id,
        owner_id=owner_id,
        limit=limit,
        offset=offset,
    )
    return _page(ProjectRead, found, limit, offset)


@router.get("/projects/{project_id}", tags=["crm"], responses=error_responses(ProjectNotFound))
async def get_project(project: ProjectDep) -> ProjectRead:
    """One project in the caller's scope; anyone else's is 404."""
    return ProjectRead.model_validate(project)


@router.put(
    "/projects/{project_id}",
    tags=["crm"],
    responses=error_responses(
        ProjectNotFound, ClientNotFound, StaleVersion, IllegalTransition, NotManager
    ),
)
async def update_project(
    body: ProjectUpdate, project: ProjectDep, session: SessionDep, principal: CrmUser
) -> ProjectRead:
    """Change a project, status included (an illegal move is 409 with `details.allowed`);
    `version` must be the one read."""
    updated = await service.update_project(
        session=session, principal=principal, project=project, data=body
    )
    return ProjectRead.model_validate(updated)


@router.delete(
    "/projects/{project_id}",
    status_code=204,
    tags=["crm"],
    responses=error_responses(ProjectNotFound, HasLiveChildren, NotManager),
)
async def delete_project(project: ProjectDep, session: SessionDep, principal: CrmUser) -> Response:
    """Soft-delete a project without live tasks (409 `has_live_children` otherwise)."""
    await service.delete_project(session=session, principal=principal, project=project)
    return Response(status_code=204)


@router.get(
    "/projects/{project_id}/tasks", tags=["crm"], responses=error_responses(ProjectNotFound)
)
async def project_tasks(
    project: ProjectDep,
    session: SessionDep,
    principal: CrmUser,
    status: TaskStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TaskRead]:
    """A project's tasks, within the caller's scope, a page at a time."""
    found = await tasks.list_tasks(
        session=session,
        principal=principal,
        project_id=project.id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return _page(TaskRead, found, limit, offset)


@router.post(
    "/tasks",
    status_code=201,
    tags=["crm"],
    responses=error_responses(ProjectNotFound, TaskNotFound, NotManager, TaskCycle),
)
async def create_task(body: TaskCreate, session: SessionDep, principal: CrmUser) -> TaskRead:
    """A task in a project the caller manages, optionally assigned and under a parent task of
    the same project."""
    task = await tasks.create_task(session=session, principal=principal, data=body)
    return TaskRead.model_validate(task)


@router.get("/tasks", tags=["crm"])
async def list_tasks(
    session: SessionDep,
    principal: CrmUser,
    status: TaskStatus | None = None,
    assignee_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    overdue: Annotated[bool | None, Query(description="Past due and not done or cancelled")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TaskRead]:
    """Tasks in the caller's scope, filtered by `status`, `assignee_id`, `project_id` and
    `overdue`, a page at a time."""
    found = await tasks.list_tasks(
        session=session,
        principal=principal,
        status=status,
        assignee_id=assignee_id,
        project_id=project_id,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )
    return _page(TaskRead, found, limit, offset)


@router.get("/tasks/{task_id}", tags=["crm"], responses=error_responses(TaskNotFound))
async def get_task(task: TaskDep) -> TaskRead:
    """One task in the caller's scope; anyone else's is 404."""
    return TaskRead.model_validate(task)


@router.put(
    "/tasks/{task_id}",
    tags=["crm"],
    responses=error_responses(TaskNotFound, StaleVersion, NotManager, TaskCycle),
)
async def update_task(
    body: TaskUpdate, task: TaskDep, session: SessionDep, principal: CrmUser
) -> TaskRead:
    """Change a task's fields (its status moves through PATCH /tasks/{id}/status); `version`
    must be the one read."""
    updated = await tasks.update_task(session=session, principal=principal, task=task, data=body)
    return TaskRead.model_validate(updated)


@router.patch(
    "/tasks/{task_id}/assign",
    tags=["crm"],
    responses=error_responses(TaskNotFound, StaleVersion, NotManager),
)
async def assign_task(
    body: TaskAssign, task: TaskDep, session: SessionDep, principal: CrmUser
) -> TaskRead:
    """Give the task to an active officer or admin, or to nobody (`null`); the new assignee,
    unless it is the caller, is notified (task_assigned)."""
    updated = await tasks.assign_task(session=session, principal=principal, task=task, data=body)
    return TaskRead.model_validate(updated)


@router.patch(
    "/tasks/{task_id}/status",
    tags=["crm"],
    responses=error_responses(TaskNotFound, StaleVersion, NotManager, IllegalTransition),
)
async def change_task_status(
    body: TaskStatusChange, task: TaskDep, session: SessionDep, principal: CrmUser
) -> TaskRead:
    """Move a task's status; an illegal move is 409 `illegal_transition` with
    `details.allowed`."""
    updated = await tasks.change_status(session=session, principal=principal, task=task, data=body)
    return TaskRead.model_validate(updated)


@router.delete(
    "/tasks/{task_id}",
    status_code=204,
    tags=["crm"],
    responses=error_responses(TaskNotFound, HasLiveChildren, NotManager),
)
async def delete_task(task: TaskDep, session: SessionDep, principal: CrmUser) -> Response:
    """Soft-delete a task without live sub-tasks (409 `has_live_children` otherwise)."""
    await tasks.delete_task(session=session, principal=principal, task=task)
    return Response(status_code=204)


@router.post(
    "/comments",
    status_code=201,
    tags=["crm"],
    responses=error_responses(ClientNotFound, ProjectNotFound, TaskNotFound),
)
async def add_comment(body: CommentCreate, session: SessionDep, principal: CrmUser) -> CommentRead:
    """Comment on a project, task or client the caller can see; the people it concerns are
    notified (comment_added), never its author."""
    comment = await comments.add_comment(session=session, principal=principal, data=body)
    return CommentRead.model_validate(comment)


@router.get("/comments", tags=["crm"])
async def list_comments(
    session: SessionDep,
    principal: CrmUser,
    entity_type: EntityType | None = None,
    entity_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CommentRead]:
    """Comments on one project, task or client the caller can see, oldest first, a page at a
    time."""
    found = await comments.list_comments(
        session=session,
        principal=principal,
        entity_type=entity_type,
        entity_id=entity_id,
        limit=limit,
        offset=offset,
    )
    return _page(CommentRead, found, limit, offset)


@router.get("/comments/{comment_id}", tags=["crm"], responses=error_responses(CommentNotFound))
async def get_comment(comment: CommentDep) -> CommentRead:
    """One comment on something the caller can see."""
    return CommentRead.model_validate(comment)


@router.put(
    "/comments/{comment_id}",
    tags=["crm"],
    responses=error_responses(CommentNotFound, StaleVersion, NotAuthor),
)
async def update_comment(
    body: CommentUpdate, comment: CommentDep, session: SessionDep, principal: CrmUser
) -> CommentRead:
    """Change your own comment (admins: any; else 403 `not_author`); `version` must be the one
    read."""
    updated = await comments.update_comment(
        session=session, principal=principal, comment=comment, data=body
    )
    return CommentRead.model_validate(updated)


@router.delete(
    "/comments/{comment_id}",
    status_code=204,
    tags=["crm"],
    responses=error_responses(CommentNotFound, NotAuthor),
)
async def delete_comment(comment: CommentDep, session: SessionDep, principal: CrmUser) -> Response:
    """Soft-delete your own comment (admins: any; else 403 `not_author`)."""
    await comments.delete_comment(session=session, principal=principal, comment=comment)
    return Response(status_code=204)


@router.get("/users/{user_id}/tasks", tags=["crm"])
async def user_tasks(
    user_id: uuid.UUID,
    session: SessionDep,
    principal: CrmUser,
    status: TaskStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TaskRead]:
    """The tasks assigned to the user, of those the caller may see."""
    found = await tasks.list_tasks(
        session=session,
        principal=principal,
        assignee_id=user_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return _page(TaskRead, found, limit, offset)


@router.get("/users/{user_id}/projects", tags=["crm"])
async def user_projects(
    user_id: uuid.UUID,
    session: SessionDep,
    principal: CrmUser,
    status: ProjectStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProjectRead]:
    """The projects the user owns, of those the caller may see."""
    found = await service.list_projects(
        session=session,
        principal=principal,
        owner_id=user_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return _page(ProjectRead, found, limit, offset)
