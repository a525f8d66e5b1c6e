"""What the credential check read, kept for a moment: an authenticated request costs no database
read while what it depends on is fresh.

The promise stays: logout, a password change, a deactivation, a role change or a revoked key
refuse older credentials at once on the worker that committed them (its after-commit events
drop the entries) and within `BAZAAR_AUTH_VALIDITY_CACHE_SECONDS` (default 1 s) on every other
worker, whose entries expire. 0 turns the cache off.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from cachetools import TTLCache

from bazaar.auth.principal import Principal
from bazaar.events import CredentialsEnded, Event

# Far more credentials than one process serves within the lifetime of an entry.
MAX_ENTRIES = 50_000


class ValidityCache:
    def __init__(self, seconds: float) -> None:
        self.enabled = seconds > 0
        ttl = max(seconds, 0.001)
        self._sessions: TTLCache[tuple[uuid.UUID, uuid.UUID, str], Any] = TTLCache(
            maxsize=MAX_ENTRIES, ttl=ttl
        )
        self._keys: TTLCache[str, Principal] = TTLCache(maxsize=MAX_ENTRIES, ttl=ttl)

    def session(self, user_id: uuid.UUID, session_id: uuid.UUID, jti: str) -> Any | None:
        """The validity row read for this access token, if still fresh."""
        return self._sessions.get((user_id, session_id, jti)) if self.enabled else None

    def keep_session(self, user_id: uuid.UUID, session_id: uuid.UUID, jti: str, row: Any) -> None:
        if self.enabled:
            self._sessions[(user_id, session_id, jti)] = row

    def api_key(self, key_hash: str) -> Principal | None:
        return self._keys.get(key_hash) if self.enabled else None

    def keep_api_key(self, key_hash: str, principal: Principal) -> None:
        if self.enabled:
            self._keys[key_hash] = principal

    async def forget_ended(self, events: Sequence[Event]) -> None:
        """An events subscriber: credentials that ended here are refused from the next request."""
        for event in events:
            if isinstance(event, CredentialsEnded):
                self._forget(uuid.UUID(event.user_id), event.credential)

    def _forget(self, user_id: uuid.UUID, credential: str | None) -> None:
        for key in [k for k in self._sessions if k[0] == user_id]:
            if credential is None or str(key[1]) == credential:
                self._sessions.pop(key, None)
        for key_hash, principal in list(self._keys.items()):
            if principal.user_id == user_id and (
                credential is None or str(principal.api_key_id) == credential
            ):
                self._keys.pop(key_hash, None)
