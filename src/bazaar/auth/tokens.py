"""Token checks for callers outside HTTP dependencies (the WebSocket endpoint, peers)."""

from __future__ import annotations

from typing import Any

from bazaar.auth.access_tokens import AccessClaims, InvalidTokenError, read_access_token
from bazaar.auth.authentication import authenticate
from bazaar.auth.context import token_config
from bazaar.auth.errors import InvalidToken
from bazaar.auth.principal import Principal
from bazaar.config import Settings


def decode_access_token(token: str, settings: Settings) -> AccessClaims:
    """Signature and claims only, no revocation check; raises InvalidToken (401)."""
    try:
        return read_access_token(token_config(settings), token)
    except InvalidTokenError as exc:
        raise InvalidToken from exc


async def authenticate_token(token: str, *, app_state: Any) -> Principal:
    """A bearer credential (access token or API key), fully checked, revocation included."""
    return (await authenticate(token, app_state=app_state)).principal
