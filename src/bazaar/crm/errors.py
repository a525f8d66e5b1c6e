"""CRM errors, each with its own code (the one error body is built in bazaar.errors)."""

from __future__ import annotations

from bazaar.errors import AppError, ConflictError, ForbiddenError, NotFoundError


class ClientNotFound(NotFoundError):
    code = "client_not_found"
    default_message = "Client not found"


class ProjectNotFound(NotFoundError):
    code = "project_not_found"
    default_message = "Project not found"


class TaskNotFound(NotFoundError):
    code = "task_not_found"
    default_message = "Task not found"


class CommentNotFound(NotFoundError):
    code = "comment_not_found"
    default_message = "Comment not found"


class StaleVersion(ConflictError):
    code = "version_conflict"
    default_message = "The record was changed by someone else; reload it and retry"


class IllegalTransition(ConflictError):
    """`details.allowed` lists the statuses the row may move to."""

    code = "illegal_transition"
    default_message = "That status cannot be reached from the current one"


class TaskCycle(ConflictError):
    code = "task_cycle"
    default_message = "A task cannot be its own ancestor"


class HasLiveChildren(ConflictError):
    code = "has_live_children"
    default_message = "Delete or move what belongs to it first"


class NotManager(ForbiddenError):
    code = "not_manager"
    default_message = "Only the project's owner, its client's owner or an admin may do that"


class NotAuthor(ForbiddenError):
    code = "not_author"
    default_message = "Only the comment's author or an admin may change it"


class ConnectionNotFound(NotFoundError):
    code = "crm_connection_not_found"
    default_message = "CRM connection not found"


class ConnectionNameTaken(ConflictError):
    code = "crm_connection_name_taken"
    default_message = "Another CRM connection has that name"


class SyncRunning(ConflictError):
    """`details.run_id` is the run in progress."""

    code = "crm_sync_running"
    default_message = "A sync of this connection is already running"


class RunNotFound(NotFoundError):
    code = "crm_run_not_found"
    default_message = "Sync run not found"


class RollbackRefused(ConflictError):
    """`details.changed` lists the records changed since the run, on either side."""

    code = "crm_rollback_refused"
    default_message = "Records the run wrote were changed since; roll back refused"


class ConflictNotFound(NotFoundError):
    code = "crm_conflict_not_found"
    default_message = "Sync conflict not found"


class ConflictClosed(ConflictError):
    code = "crm_conflict_resolved"
    default_message = "That conflict is already resolved"


class CrmRefused(AppError):
    """The external CRM refused or could not take a write; nothing was changed here."""

    code = "crm_refused"
    status_code = 502
    default_message = "The external CRM did not accept the write"
