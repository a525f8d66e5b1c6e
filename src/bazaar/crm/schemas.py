"""Request and response bodies of the CRM resources. Updates carry the `version` they were
made against; every list is a page with its total."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bazaar.crm.rules import EntityType, Priority, ProjectStatus, TaskStatus
from bazaar.examples import OFFICER_ID, RECORD_ID, example

# PostgreSQL text cannot hold NUL: a string carrying one is bad input (422), never a 500.
NO_NUL = r"^[^\x00]*$"
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{4,30}$", examples=["+91 98765 43210"])]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
ShortText = Annotated[str, Field(max_length=200, pattern=NO_NUL)]
LongText = Annotated[str, Field(max_length=10_000, pattern=NO_NUL)]
Content = Annotated[str, Field(min_length=1, max_length=10_000, pattern=NO_NUL)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
ItemT = TypeVar("ItemT")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


class ClientCreate(Strict):
    model_config = example(
        {
            "name": "Sharma Traders",
            "contact_person": "Neha Sharma",
            "email": "neha@sharma.example",
            "phone": "+91 98111 22222",
            "company": "Sharma Traders Pvt Ltd",
        }
    )

    name: Name
    contact_person: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    notes: LongText | None = None
    customer_id: uuid.UUID | None = Field(default=None, description="A lending customer")
    owner_id: uuid.UUID | None = Field(
        default=None, description="Admins only; officers own the clients they create"
    )


class ClientUpdate(Strict):
    model_config = example({"version": 1, "notes": "Prefers calls after 5 pm"})

    version: Version
    name: Name | None = None
    contact_person: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    notes: LongText | None = None
    customer_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None


class ClientRead(Read):
    id: uuid.UUID
    name: str
    contact_person: str | None
    email: str | None
    phone: str | None
    company: str | None
    notes: str | None
    customer_id: uuid.UUID | None
    owner_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


class ProjectCreate(Strict):
    model_config = example(
        {
            "name": "Second shop",
            "description": "Fit-out and stock for the new branch",
            "status": "planned",
            "priority": "high",
            "client_id": RECORD_ID,
            "due_date": "2027-03-31",
        }
    )

    name: Name
    description: LongText | None = None
    status: ProjectStatus = ProjectStatus.PLANNED
    priority: Priority = Priority.MEDIUM
    client_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = Field(
        default=None, description="Admins only; officers own the projects they create"
    )
    start_date: date | None = None
    due_date: date | None = None


class ProjectUpdate(Strict):
    model_config = example({"version": 1, "status": "active"})

    version: Version
    name: Name | None = None
    description: LongText | None = None
    status: ProjectStatus | None = Field(
        default=None, description="Only legal moves; 409 lists the allowed ones"
    )
    priority: Priority | None = None
    client_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    start_date: date | None = None
    due_date: date | None = None


class ProjectRead(Read):
    id: uuid.UUID
    name: str
    description: str | None
    status: ProjectStatus
    priority: Priority
    client_id: uuid.UUID | None
    owner_id: uuid.UUID
    start_date: date | None
    due_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime


class TaskCreate(Strict):
    model_config = example(
        {
            "title": "Collect GST papers",
            "project_id": RECORD_ID,
            "assignee_id": OFFICER_ID,
            "priority": "medium",
            "due_date": "2027-01-15",
        }
    )

    title: Name
    description: LongText | None = None
    project_id: uuid.UUID
    assignee_id: uuid.UUID | None = None
    priority: Priority = Priority.MEDIUM
    due_date: date | None = None
    parent_id: uuid.UUID | None = Field(default=None, description="Makes it a sub-task")


class TaskUpdate(Strict):
    """Status and assignee change through their own routes (their rules and notices)."""

    model_config = example(
        {"version": 1, "title": "Collect GST and rent papers", "due_date": "2027-01-20"}
    )

    version: Version
    title: Name | None = None
    description: LongText | None = None
    priority: Priority | None = None
    due_date: date | None = None
    parent_id: uuid.UUID | None = None


class TaskAssign(Strict):
    model_config = example({"assignee_id": OFFICER_ID, "version": 1})

    assignee_id: uuid.UUID | None = Field(description="None unassigns")
    version: Version | None = None


class TaskStatusChange(Strict):
    model_config = example({"status": "in_progress", "version": 2})

    status: TaskStatus
    version: Version | None = None


class TaskRead(Read):
    id: uuid.UUID
    title: str
    description: str | None
    project_id: uuid.UUID
    assignee_id: uuid.UUID | None
    status: TaskStatus
    priority: Priority
    due_date: date | None
    parent_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class CommentCreate(Strict):
    model_config = example(
        {
            "content": "Called; the papers are ready on Friday.",
            "entity_type": "task",
            "entity_id": RECORD_ID,
        }
    )

    content: Content
    entity_type: EntityType
    entity_id: uuid.UUID


class CommentUpdate(Strict):
    model_config = example({"version": 1, "content": "Called; the papers are ready on Monday."})

    version: Version
    content: Content


class CommentRead(Read):
    id: uuid.UUID
    content: str
    entity_type: EntityType
    entity_id: uuid.UUID
    author_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime
