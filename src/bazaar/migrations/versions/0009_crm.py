"""CRM: clients, projects, tasks and comments, every one a replicated row, and admins'
connections to external CRMs.

Revision ID: 0009_crm
Revises: 0008_password_reset
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.sqltypes import UTCDateTime

revision: str = "0009_crm"
down_revision: str | None = "0008_password_reset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROJECT_STATUSES = ("planned", "active", "on_hold", "completed", "cancelled")
TASK_STATUSES = ("todo", "in_progress", "blocked", "done", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")
ENTITY_TYPES = ("project", "task", "client")
AUTH_TYPES = ("jwt", "oauth", "api_key")
CONNECTION_STATUSES = ("active", "auth_failed")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _sync_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_hlc", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("origin_node", sa.String(length=64), nullable=True),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_{column}_{target.split('.')[0]}"
    return sa.ForeignKeyConstraint([column], [target], name=op.f(name))


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "crm_clients",
        *_sync_columns(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_person", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        _fk("crm_clients", "owner_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_clients")),
    )
    _indexes("crm_clients", "name", "owner_id")
    op.create_table(
        "crm_projects",
        *_sync_columns(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", _enum(PROJECT_STATUSES, "crm_project_status"), nullable=False),
        sa.Column("priority", _enum(PRIORITIES, "crm_priority"), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        _fk("crm_projects", "client_id", "crm_clients.id"),
        _fk("crm_projects", "owner_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_projects")),
    )
    _indexes("crm_projects", "status", "client_id", "owner_id")
    op.create_table(
        "crm_tasks",
        *_sync_columns(),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("status", _enum(TASK_STATUSES, "crm_task_status"), nullable=False),
        sa.Column("priority", _enum(PRIORITIES, "crm_priority"), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        _fk("crm_tasks", "project_id", "crm_projects.id"),
        _fk("crm_tasks", "assignee_id", "users.id"),
        _fk("crm_tasks", "parent_id", "crm_tasks.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_tasks")),
    )
    _indexes("crm_tasks", "project_id", "assignee_id", "status", "due_date", "parent_id")
    op.create_table(
        "crm_comments",
        *_sync_columns(),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("entity_type", _enum(ENTITY_TYPES, "crm_entity_type"), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        _fk("crm_comments", "author_id", "users.id"),
        _fk("crm_comments", "owner_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_comments")),
    )
    op.create_index("ix_crm_comments_entity", "crm_comments", ["entity_type", "entity_id"])
    _indexes("crm_comments", "owner_id")
    _create_connections()


def _create_connections() -> None:
    op.create_table(
        "crm_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_version", sa.String(length=20), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column("auth_type", _enum(AUTH_TYPES, "crm_auth_type"), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("token_url", sa.String(length=500), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("api_key_header", sa.String(length=100), nullable=False),
        sa.Column("refresh_margin_seconds", sa.Integer(), nullable=False),
        sa.Column("password", sa.String(length=500), nullable=True),
        sa.Column("client_secret", sa.String(length=500), nullable=True),
        sa.Column("api_key", sa.String(length=500), nullable=True),
        sa.Column("status", _enum(CONNECTION_STATUSES, "crm_connection_status"), nullable=False),
        sa.Column("status_message", sa.String(length=500), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_crm_connections_name")),
    )


def downgrade() -> None:
    for table in ("crm_connections", "crm_comments", "crm_tasks", "crm_projects", "crm_clients"):
        op.drop_table(table)
