"""The five resources as the external CRM holds them. Unknown fields are ignored (a CRM adds
fields over time); a missing id or a wrong type fails the record, never the process."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

RecordT = TypeVar("RecordT", bound="ExternalRecord")


class ExternalRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    updated_at: datetime
    deleted_at: datetime | None = None
    bazaar_id: str | None = None
    """Set on what Bazaar created, so a create whose answer was lost is recognised."""


class ExternalUser(ExternalRecord):
    email: str | None = None
    name: str | None = None


class ExternalClient(ExternalRecord):
    name: str
    contact_person: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    notes: str | None = None


class ExternalProject(ExternalRecord):
    name: str
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    client_id: str | None = None
    owner_id: str | None = None
    start_date: date | None = None
    due_date: date | None = None


class ExternalTask(ExternalRecord):
    title: str
    description: str | None = None
    project_id: str | None = None
    assignee_id: str | None = None
    status: str | None = None
    priority: str | None = None
    due_date: date | None = None
    parent_id: str | None = None


class ExternalComment(ExternalRecord):
    content: str
    entity_type: str
    entity_id: str
    author_id: str | None = None


MODELS: dict[str, type[ExternalRecord]] = {
    "users": ExternalUser,
    "clients": ExternalClient,
    "projects": ExternalProject,
    "tasks": ExternalTask,
    "comments": ExternalComment,
}


class RecordPage(BaseModel, Generic[RecordT]):
    records: list[RecordT]
    page: int
    per_page: int
    total: int
    failed: list[tuple[Any, str]] = Field(default_factory=list)
    """Items of the page that are not records of the contract, with why."""
