"""Use cases for clients and projects, and the helpers every CRM service shares. Services
flush; the request commits. Other domains use the CRM through this module only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import service as auth_service
from bazaar.auth.errors import UserNotFound
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.crm import rules
from bazaar.crm.errors import (
    ClientNotFound,
    HasLiveChildren,
    IllegalTransition,
    NotManager,
    ProjectNotFound,
    StaleVersion,
)
from bazaar.crm.models import Comment, CrmClient, Project, Task
from bazaar.crm.rules import ProjectStatus
from bazaar.crm.schemas import ClientCreate, ClientUpdate, ProjectCreate, ProjectUpdate
from bazaar.crm.scope import clients_visible, manages_project, projects_visible
from bazaar.errors import InvalidInputError, NotFoundError
from bazaar.lending import service as lending_service
from bazaar.pagination import fetch_page
from bazaar.stamps import utcnow

Row = TypeVar("Row", CrmClient, Project, Task, Comment)
STAFF = (Role.OFFICER, Role.ADMIN)


def check_version(row: CrmClient | Project | Task | Comment, version: int | None) -> None:
    if version is not None and row.version != version:
        raise StaleVersion(details={"current_version": row.version, "sent_version": version})


async def check_staff(session: AsyncSession, field: str, user_id: uuid.UUID | None) -> None:
    """Owners and assignees are staff accounts: CRM work is never a customer's."""
    if user_id is None:
        return
    try:
        account = await auth_service.get_user(session=session, user_id=user_id)
    except UserNotFound:
        account = None
    if account is None or account.role not in STAFF or not account.is_active:
        raise InvalidInputError(
            f"{field} must be an active officer or admin", details={"field": field}
        )


async def page(
    session: AsyncSession,
    model: type[Row],
    where: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    query = select(model).where(*where).order_by(model.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


def apply(row: object, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


def owner_for(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    """Admins may name an owner; officers own what they create."""
    if principal.role is Role.ADMIN and requested is not None:
        return requested
    return principal.user_id


async def get_client(
    *, session: AsyncSession, principal: Principal, client_id: uuid.UUID
) -> CrmClient:
    query = select(CrmClient).where(CrmClient.id == client_id, clients_visible(principal))
    client = (await session.execute(query)).scalar_one_or_none()
    if client is None:
        raise ClientNotFound()
    return client


async def list_clients(
    *,
    session: AsyncSession,
    principal: Principal,
    q: str | None,
    owner_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[CrmClient], int]:
    where = [clients_visible(principal)]
    if q:
        pattern = f"%{q.lower()}%"
        where.append(
            or_(
                func.lower(CrmClient.name).like(pattern),
                func.lower(CrmClient.company).like(pattern),
            )
        )
    if owner_id is not None:
        where.append(CrmClient.owner_id == owner_id)
    return await page(session, CrmClient, where, limit=limit, offset=offset)


async def _check_customer(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID | None
) -> None:
    if customer_id is None:
        return
    try:
        await lending_service.get_customer(
            session=session, principal=principal, customer_id=customer_id
        )
    except NotFoundError:
        raise InvalidInputError(
            "customer_id must be a lending customer you can see",
            details={"field": "customer_id"},
        ) from None


async def create_client(
    *, session: AsyncSession, principal: Principal, data: ClientCreate
) -> CrmClient:
    owner_id = owner_for(principal, data.owner_id)
    await check_staff(session, "owner_id", owner_id)
    await _check_customer(session, principal, data.customer_id)
    client = CrmClient(**data.model_dump(exclude={"owner_id"}), owner_id=owner_id)
    session.add(client)
    await session.flush()
    return client


async def update_client(
    *, session: AsyncSession, principal: Principal, client: CrmClient, data: ClientUpdate
) -> CrmClient:
    check_version(client, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if principal.role is not Role.ADMIN or changes.get("owner_id") is None:
        changes.pop("owner_id", None)
    await check_staff(session, "owner_id", changes.get("owner_id"))
    if changes.get("customer_id") is not None:
        await _check_customer(session, principal, changes["customer_id"])
    if changes.get("name", "") is None:
        raise InvalidInputError("name cannot be null", details={"field": "name"})
    apply(client, changes)
    await session.flush()
    return client


async def delete_client(*, session: AsyncSession, client: CrmClient) -> None:
    live = select(func.count()).where(Project.client_id == client.id, Project.deleted_at.is_(None))
    if (await session.execute(live)).scalar_one():
        raise HasLiveChildren(details={"client_id": str(client.id), "children": "projects"})
    client.deleted_at = utcnow()
    await session.flush()


async def get_project(
    *, session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Project:
    query = select(Project).where(Project.id == project_id, projects_visible(principal))
    project = (await session.execute(query)).scalar_one_or_none()
    if project is None:
        raise ProjectNotFound()
    return project


async def list_projects(
    *,
    session: AsyncSession,
    principal: Principal,
    status: ProjectStatus | None = None,
    client_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Project], int]:
    where = [projects_visible(principal)]
    for column, value in (
        (Project.status, status),
        (Project.client_id, client_id),
        (Project.owner_id, owner_id),
    ):
        if value is not None:
            where.append(column == value)
    return await page(session, Project, where, limit=limit, offset=offset)


async def client_of(session: AsyncSession, project: Project) -> CrmClient | None:
    return None if project.client_id is None else await session.get(CrmClient, project.client_id)


async def ensure_manages(session: AsyncSession, principal: Principal, project: Project) -> None:
    if not manages_project(principal, project, await client_of(session, project)):
        raise NotManager(details={"project_id": str(project.id)})


async def create_project(
    *, session: AsyncSession, principal: Principal, data: ProjectCreate
) -> Project:
    owner_id = owner_for(principal, data.owner_id)
    await check_staff(session, "owner_id", owner_id)
    if data.client_id is not None:
        await get_client(session=session, principal=principal, client_id=data.client_id)
    project = Project(**data.model_dump(exclude={"owner_id"}), owner_id=owner_id)
    session.add(project)
    await session.flush()
    return project


def check_move(moves: Any, current: Any, wanted: Any) -> None:
    if wanted != current and wanted not in moves[current]:
        allowed = rules.allowed_moves(moves, current)
        raise IllegalTransition(
            details={"current": current.value, "requested": wanted.value, "allowed": allowed}
        )


async def update_project(
    *, session: AsyncSession, principal: Principal, project: Project, data: ProjectUpdate
) -> Project:
    check_version(project, data.version)
    await ensure_manages(session, principal, project)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if principal.role is not Role.ADMIN or changes.get("owner_id") is None:
        changes.pop("owner_id", None)
    for required in ("name", "status", "priority"):
        if required in changes and changes[required] is None:
            raise InvalidInputError(f"{required} cannot be null", details={"field": required})
    await check_staff(session, "owner_id", changes.get("owner_id"))
    if changes.get("client_id") is not None:
        await get_client(session=session, principal=principal, client_id=changes["client_id"])
    if "status" in changes:
        check_move(rules.PROJECT_MOVES, project.status, changes["status"])
    apply(project, changes)
    await session.flush()
    return project


async def delete_project(*, session: AsyncSession, principal: Principal, project: Project) -> None:
    await ensure_manages(session, principal, project)
    live = select(func.count()).where(Task.project_id == project.id, Task.deleted_at.is_(None))
    if (await session.execute(live)).scalar_one():
        raise HasLiveChildren(details={"project_id": str(project.id), "children": "tasks"})
    project.deleted_at = utcnow()
    await session.flush()
