from dataclasses import dataclass
from uuid import UUID

from bazaar.auth.roles import SYNC_PATH_PREFIX, Role, Scope


@dataclass(frozen=True)
class Principal:
    """Who is calling. An API key acts as its owner (same user_id and role), within its scope."""

    user_id: UUID
    role: Role
    api_key_id: UUID | None = None
    scope: str | None = None

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    def may_write(self) -> bool:
        return self.api_key_id is None or self.scope in (Scope.WRITE, Scope.SYNC)

    def may_call(self, path: str) -> bool:
        """A sync-scoped key reaches the sync protocol and nothing else."""
        return self.scope != Scope.SYNC or path.startswith(SYNC_PATH_PREFIX)
