"""The external CRM's contract as data, so another CRM's paths, pagination and field names
map without touching the client or the sync code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RESOURCES = ("users", "clients", "projects", "tasks", "comments")
"""In the order a sync visits them: what others point at first."""


@dataclass(frozen=True)
class Dialect:
    resource_paths: Mapping[str, str] = field(
        default_factory=lambda: {name: name for name in RESOURCES}
    )
    """Resource name -> path segment under `{base_url}/api/{api_version}/`."""
    page_param: str = "page"
    per_page_param: str = "per_page"
    updated_since_param: str = "updated_since"
    data_key: str = "data"
    total_key: str = "total"
    id_field: str = "id"
    updated_at_field: str = "updated_at"
    deleted_at_field: str = "deleted_at"
    login_path: str = "auth/login"
    refresh_path: str = "auth/refresh"
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per resource, the CRM's field name -> ours, where they differ."""

    def path(self, resource: str) -> str:
        return self.resource_paths[resource]

    def to_ours(self, resource: str, record: Mapping[str, Any]) -> dict[str, Any]:
        names = self.fields.get(resource, {})
        return {names.get(key, key): value for key, value in record.items()}

    def to_theirs(self, resource: str, record: Mapping[str, Any]) -> dict[str, Any]:
        names = {ours: theirs for theirs, ours in self.fields.get(resource, {}).items()}
        return {names.get(key, key): value for key, value in record.items()}


DEFAULT_DIALECT = Dialect()
"""The default contract, documented in docs/crm.md."""
