"""Demo CRM for `officer@demo.bazaar`: a few clients (one linked to a lending customer),
projects in several statuses, tasks (one overdue, one sub-task) and comments. Built through
the services, so the data obeys the API's rules."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import service as auth_service
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.crm import comments, service, tasks
from bazaar.crm.models import CrmClient
from bazaar.crm.rules import EntityType, Priority, ProjectStatus, TaskStatus
from bazaar.crm.schemas import (
    ClientCreate,
    CommentCreate,
    ProjectCreate,
    TaskCreate,
    TaskStatusChange,
)
from bazaar.lending import service as lending_service
from bazaar.stamps import utcnow

# (client, contact, company, project, status, tasks as (title, status, days until due))
BOOK: tuple[
    tuple[str, str, str, str, ProjectStatus, tuple[tuple[str, TaskStatus, int], ...]], ...
] = (
    (
        "Ravi Kirana Store",
        "Ravi Khan",
        "Ravi Retail Pvt Ltd",
        "Shop expansion loan follow-up",
        ProjectStatus.ACTIVE,
        (
            ("Visit the new premises", TaskStatus.IN_PROGRESS, 3),
            ("Collect rent agreement", TaskStatus.TODO, -2),
        ),
    ),
    (
        "Green Valley Farms",
        "Sunita Patel",
        "Green Valley Agro",
        "Cold storage proposal",
        ProjectStatus.PLANNED,
        (("Draft the proposal", TaskStatus.TODO, 10),),
    ),
    (
        "Sharma Textiles",
        "Vikram Sharma",
        "Sharma & Sons",
        "Annual review",
        ProjectStatus.COMPLETED,
        (("Review statements", TaskStatus.DONE, -30),),
    ),
)


async def _officer(session: AsyncSession) -> Principal | None:
    user = await auth_service.find_user_by_email(session=session, email="officer@demo.bazaar")
    return None if user is None else Principal(user_id=user.id, role=Role.OFFICER)


async def seed_demo(*, session: AsyncSession) -> list[str]:
    officer = await _officer(session)
    if officer is None:
        return ["crm: demo officer missing, no clients seeded"]
    existing = select(func.count()).where(CrmClient.owner_id == officer.user_id)
    if (await session.execute(existing)).scalar_one():
        return ["crm: demo clients already present"]
    today = utcnow().date()
    for name, contact, company, title, status, work in BOOK:
        found, _ = await lending_service.list_customers(
            session=session, principal=officer, q=contact, limit=1, offset=0
        )
        client = await service.create_client(
            session=session,
            principal=officer,
            data=ClientCreate(
                name=name,
                contact_person=contact,
                company=company,
                email=f"{contact.split()[0].lower()}@example.com",
                customer_id=found[0].id if found else None,
            ),
        )
        project = await service.create_project(
            session=session,
            principal=officer,
            data=ProjectCreate(
                name=title,
                client_id=client.id,
                status=status,
                priority=Priority.HIGH,
                start_date=today - timedelta(days=20),
                due_date=today + timedelta(days=30),
            ),
        )
        parent = None
        for task_title, task_status, due_in in work:
            task = await tasks.create_task(
                session=session,
                principal=officer,
                data=TaskCreate(
                    title=task_title,
                    project_id=project.id,
                    assignee_id=officer.user_id,
                    due_date=today + timedelta(days=due_in),
                    parent_id=parent,
                ),
            )
            parent = parent or task.id
            if task_status is not TaskStatus.TODO:
                await tasks.change_status(
                    session=session,
                    principal=officer,
                    task=task,
                    data=TaskStatusChange(status=task_status),
                )
        await comments.add_comment(
            session=session,
            principal=officer,
            data=CommentCreate(
                content=f"Spoke with {contact}; next step agreed.",
                entity_type=EntityType.PROJECT,
                entity_id=project.id,
            ),
        )
    return [
        f"crm: {len(BOOK)} demo clients with projects, tasks and comments for officer@demo.bazaar"
    ]
