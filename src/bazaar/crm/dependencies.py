"""Who may use CRM routes, and rows loaded within the caller's scope (or 404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from bazaar.auth.dependencies import require
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.crm import comments, service, tasks
from bazaar.crm.models import Comment, CrmClient, Project, Task
from bazaar.db import SessionDep

CrmUser = Annotated[Principal, Depends(require(Role.ADMIN, Role.OFFICER))]
"""Relationship work is staff work: customers and machine accounts (nodes) get 403."""


async def _client(client_id: uuid.UUID, session: SessionDep, principal: CrmUser) -> CrmClient:
    return await service.get_client(session=session, principal=principal, client_id=client_id)


async def _project(project_id: uuid.UUID, session: SessionDep, principal: CrmUser) -> Project:
    return await service.get_project(session=session, principal=principal, project_id=project_id)


async def _task(task_id: uuid.UUID, session: SessionDep, principal: CrmUser) -> Task:
    return await tasks.get_task(session=session, principal=principal, task_id=task_id)


async def _comment(comment_id: uuid.UUID, session: SessionDep, principal: CrmUser) -> Comment:
    return await comments.get_comment(session=session, principal=principal, comment_id=comment_id)


ClientDep = Annotated[CrmClient, Depends(_client)]
ProjectDep = Annotated[Project, Depends(_project)]
TaskDep = Annotated[Task, Depends(_task)]
CommentDep = Annotated[Comment, Depends(_comment)]
