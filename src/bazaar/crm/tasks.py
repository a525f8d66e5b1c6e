"""Use cases for tasks: sub-tasks without cycles, assignment, status moves, overdue lists.

A project's managers (scope.manages_project) create, assign and delete its tasks; the
assignee may also edit the task and move its status."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.crm import rules
from bazaar.crm.errors import HasLiveChildren, NotManager, TaskCycle, TaskNotFound
from bazaar.crm.events import TaskAssigned
from bazaar.crm.models import Project, Task
from bazaar.crm.rules import TaskStatus
from bazaar.crm.schemas import TaskAssign, TaskCreate, TaskStatusChange, TaskUpdate
from bazaar.crm.scope import manages_project, tasks_visible
from bazaar.crm.service import (
    apply,
    check_move,
    check_staff,
    check_version,
    client_of,
    ensure_manages,
    get_project,
    page,
)
from bazaar.errors import InvalidInputError
from bazaar.events import record_event
from bazaar.stamps import new_id, utcnow


async def get_task(*, session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> Task:
    query = select(Task).where(Task.id == task_id, tasks_visible(principal))
    task = (await session.execute(query)).scalar_one_or_none()
    if task is None:
        raise TaskNotFound()
    return task


async def list_tasks(
    *,
    session: AsyncSession,
    principal: Principal,
    status: TaskStatus | None = None,
    assignee_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    overdue: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Task], int]:
    where = [tasks_visible(principal)]
    for column, value in (
        (Task.status, status),
        (Task.assignee_id, assignee_id),
        (Task.project_id, project_id),
    ):
        if value is not None:
            where.append(column == value)
    if overdue is not None:
        late = (Task.due_date < utcnow().date()) & Task.status.in_(rules.OPEN_TASKS)
        where.append(late if overdue else ~late | Task.due_date.is_(None))
    return await page(session, Task, where, limit=limit, offset=offset)


async def _project_of(session: AsyncSession, task: Task) -> Project:
    project = await session.get(Project, task.project_id)
    assert project is not None  # a foreign key
    return project


async def _ensure_may_edit(session: AsyncSession, principal: Principal, task: Task) -> None:
    if task.assignee_id == principal.user_id:
        return
    await ensure_manages(session, principal, await _project_of(session, task))


async def _check_parent(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    parent_id: uuid.UUID,
    project_id: uuid.UUID,
) -> None:
    parent = await get_task(session=session, principal=principal, task_id=parent_id)
    if parent.project_id != project_id:
        raise InvalidInputError(
            "A sub-task belongs to its parent's project", details={"field": "parent_id"}
        )
    # Every parent link of the project, in one read: a chain never leaves its project.
    links = await session.execute(
        select(Task.id, Task.parent_id).where(Task.project_id == project_id)
    )
    parents = {row.id: row.parent_id for row in links}
    if rules.makes_cycle(task_id=task_id, parent_id=parent_id, parents=parents):
        raise TaskCycle(details={"task_id": str(task_id), "parent_id": str(parent_id)})


async def create_task(*, session: AsyncSession, principal: Principal, data: TaskCreate) -> Task:
    project = await get_project(session=session, principal=principal, project_id=data.project_id)
    await ensure_manages(session, principal, project)
    await check_staff(session, "assignee_id", data.assignee_id)
    task = Task(id=new_id(), **data.model_dump())
    if data.parent_id is not None:
        await _check_parent(session, principal, task.id, data.parent_id, project.id)
    session.add(task)
    await session.flush()
    _notify_assignee(session, principal, task)
    return task


def _notify_assignee(session: AsyncSession, principal: Principal, task: Task) -> None:
    if task.assignee_id is not None and task.assignee_id != principal.user_id:
        record_event(
            session,
            TaskAssigned(
                task_id=str(task.id),
                project_id=str(task.project_id),
                assignee_id=str(task.assignee_id),
                by=str(principal.user_id),
            ),
        )


async def update_task(
    *, session: AsyncSession, principal: Principal, task: Task, data: TaskUpdate
) -> Task:
    check_version(task, data.version)
    await _ensure_may_edit(session, principal, task)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for required in ("title", "priority"):
        if required in changes and changes[required] is None:
            raise InvalidInputError(f"{required} cannot be null", details={"field": required})
    if changes.get("parent_id") is not None:
        await _check_parent(session, principal, task.id, changes["parent_id"], task.project_id)
    apply(task, changes)
    await session.flush()
    return task


async def assign_task(
    *, session: AsyncSession, principal: Principal, task: Task, data: TaskAssign
) -> Task:
    check_version(task, data.version)
    project = await _project_of(session, task)
    if not manages_project(principal, project, await client_of(session, project)):
        raise NotManager(details={"project_id": str(project.id)})
    await check_staff(session, "assignee_id", data.assignee_id)
    if task.assignee_id != data.assignee_id:
        task.assignee_id = data.assignee_id
        await session.flush()
        _notify_assignee(session, principal, task)
    return task


async def change_status(
    *, session: AsyncSession, principal: Principal, task: Task, data: TaskStatusChange
) -> Task:
    check_version(task, data.version)
    await _ensure_may_edit(session, principal, task)
    check_move(rules.TASK_MOVES, task.status, data.status)
    task.status = data.status
    await session.flush()
    return task


async def delete_task(*, session: AsyncSession, principal: Principal, task: Task) -> None:
    await ensure_manages(session, principal, await _project_of(session, task))
    live = select(func.count()).where(Task.parent_id == task.id, Task.deleted_at.is_(None))
    if (await session.execute(live)).scalar_one():
        raise HasLiveChildren(details={"task_id": str(task.id), "children": "sub-tasks"})
    task.deleted_at = utcnow()
    await session.flush()
