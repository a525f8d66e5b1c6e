"""Who sees which CRM rows, as `WHERE` clauses: admins everything; an officer the clients
they own, the projects they own or that are for their clients or hold a task assigned to
them, and the tasks of those projects they manage or that are assigned to them. Comments
follow what they are about. Anyone else sees nothing.

Rows outside a caller's scope do not exist for them (404, never 403).
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.crm.models import Comment, CrmClient, Project, Task
from bazaar.crm.rules import EntityType


def _officer(principal: Principal) -> uuid.UUID | None:
    return principal.user_id if principal.role is Role.OFFICER else None


def clients_visible(principal: Principal) -> ColumnElement[bool]:
    live = CrmClient.deleted_at.is_(None)
    if principal.role is Role.ADMIN:
        return live & true()
    if (me := _officer(principal)) is not None:
        return live & (CrmClient.owner_id == me)
    return false()


def _managed_projects(me: uuid.UUID) -> Select[uuid.UUID]:
    """Projects an officer manages: owns, or are for a client they own."""
    mine = select(CrmClient.id).where(CrmClient.owner_id == me)
    return select(Project.id).where(
        or_(Project.owner_id == me, Project.client_id.in_(mine.scalar_subquery()))
    )


def projects_visible(principal: Principal) -> ColumnElement[bool]:
    live = Project.deleted_at.is_(None)
    if principal.role is Role.ADMIN:
        return live & true()
    if (me := _officer(principal)) is not None:
        assigned = select(Task.project_id).where(Task.assignee_id == me, Task.deleted_at.is_(None))
        return live & or_(
            Project.id.in_(_managed_projects(me).scalar_subquery()),
            Project.id.in_(assigned.scalar_subquery()),
        )
    return false()


def tasks_visible(principal: Principal) -> ColumnElement[bool]:
    live = Task.deleted_at.is_(None)
    if principal.role is Role.ADMIN:
        return live & true()
    if (me := _officer(principal)) is not None:
        return live & or_(
            Task.assignee_id == me, Task.project_id.in_(_managed_projects(me).scalar_subquery())
        )
    return false()


def comments_visible(principal: Principal) -> ColumnElement[bool]:
    live = Comment.deleted_at.is_(None)
    if principal.role is Role.ADMIN:
        return live & true()
    if _officer(principal) is None:
        return false()
    about = (
        (EntityType.CLIENT, CrmClient.id, clients_visible(principal)),
        (EntityType.PROJECT, Project.id, projects_visible(principal)),
        (EntityType.TASK, Task.id, tasks_visible(principal)),
    )
    return live & or_(
        *(
            (Comment.entity_type == kind)
            & Comment.entity_id.in_(select(column).where(visible).scalar_subquery())
            for kind, column, visible in about
        )
    )


def manages_project(principal: Principal, project: Project, client: CrmClient | None) -> bool:
    """May change or delete the project and assign its tasks: an admin, its owner or its
    client's owner. Being assigned a task in it only lets one see it and move that task."""
    if principal.role is Role.ADMIN:
        return True
    return principal.user_id in {project.owner_id, client.owner_id if client else None}
