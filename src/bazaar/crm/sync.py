"""How the CRM replicates: every row is a record, merged field by field, reaching the node
of the officer who owns it (a task through its project, a comment through what it is
about). Nothing of it is a command: there is no state machine that must replay on the hub,
only transitions the validators check with the same rules as the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.crm import rules
from bazaar.crm.models import Comment, CrmClient, Project, Task
from bazaar.crm.service import check_move
from bazaar.sync.policies import Policy
from bazaar.sync.registry import Command, PushContext, SyncEntity

OWNED = {"owner_id": Policy.SERVER_WINS}
"""Who owns a row decides whose node holds it: the hub's say, never merged from a node."""


async def _validate_project(
    *,
    session: AsyncSession,
    principal: Principal,
    push: PushContext,
    values: dict[str, Any],
    row: Project | None,
) -> None:
    if row is not None and "status" in values:
        check_move(rules.PROJECT_MOVES, row.status, rules.ProjectStatus(values["status"]))


async def _validate_task(
    *,
    session: AsyncSession,
    principal: Principal,
    push: PushContext,
    values: dict[str, Any],
    row: Task | None,
) -> None:
    if row is not None and "status" in values:
        check_move(rules.TASK_MOVES, row.status, rules.TaskStatus(values["status"]))


ENTITIES = (
    SyncEntity("crm_client", CrmClient, owner_column="owner_id", policies=OWNED),
    SyncEntity(
        "crm_project",
        Project,
        owner_column="owner_id",
        policies=OWNED,
        validate=_validate_project,
    ),
    SyncEntity("crm_task", Task, parent=("crm_project", "project_id"), validate=_validate_task),
    SyncEntity(
        "crm_comment",
        Comment,
        owner_column="owner_id",
        policies={**OWNED, "author_id": Policy.SERVER_WINS},
    ),
)
"""Parents before children. The default policy is latest_timestamp (by HLC, per field)."""

COMMANDS: tuple[Command, ...] = ()
