"""The three ways a connection authenticates, and the one refresher per connection.

`api_key` sends a fixed header. `jwt` logs in with username and password and renews with the
refresh token; `oauth` fetches a client-credentials token (RFC 6749 §4.4) with Authlib. Both
token kinds renew `refresh_margin` seconds before they expire, and on a 401. Only one renewal
runs at a time per connection: an asyncio lock in the process, then the `TokenStore`'s lock
across processes (a row lock on the connection in the database); whoever gets the lock first
looks again, so the others reuse the token it fetched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from bazaar.crm.client.errors import CRMAuthError, CRMProtocolError, CRMUnavailable


@dataclass(frozen=True)
class Token:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    """Unix time; None: the server did not say, so it is used until a 401."""

    def fresh(self, margin: float, *, unless: str | None = None) -> bool:
        if self.access_token == unless:
            return False
        return self.expires_at is None or self.expires_at - margin > time.time()


@dataclass
class TokenSlot:
    """The stored token, while its lock is held; set `token` to store another."""

    token: Token | None


class TokenStore(Protocol):
    def locked(self) -> AbstractAsyncContextManager[TokenSlot]: ...


class MemoryTokenStore:
    """A token kept by one process (tests, the CLI): the asyncio lock suffices."""

    def __init__(self) -> None:
        self.token: Token | None = None

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[TokenSlot]:
        slot = TokenSlot(self.token)
        yield slot
        self.token = slot.token


class Auth(Protocol):
    async def headers(self, http: httpx.AsyncClient) -> dict[str, str]: ...

    async def rejected(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        """The CRM answered 401 to `headers`: renew, or raise CRMAuthError if nothing can."""


class ApiKeyAuth:
    def __init__(self, *, key: str, header: str = "X-API-Key") -> None:
        self._headers = {header: key}

    async def headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        return self._headers

    async def rejected(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        raise CRMAuthError("the CRM refused the API key", status=401)


class TokenAuth:
    """Bearer tokens renewed before expiry; subclasses say how a token is obtained."""

    def __init__(self, *, store: TokenStore | None = None, refresh_margin: float = 300) -> None:
        self.store: TokenStore = store or MemoryTokenStore()
        self.margin = refresh_margin
        self.renewals = 0
        self._cached: Token | None = None
        self._lock = asyncio.Lock()

    async def headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        token = await self._current(http, stale=None)
        return {"Authorization": f"Bearer {token.access_token}"}

    async def rejected(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        used = headers.get("Authorization", "").removeprefix("Bearer ")
        await self._current(http, stale=used)

    async def _current(self, http: httpx.AsyncClient, *, stale: str | None) -> Token:
        cached = self._cached
        if cached is not None and cached.fresh(self.margin, unless=stale):
            return cached
        async with self._lock, self.store.locked() as slot:
            # Another task, or another worker, may have renewed while this one waited.
            stored = slot.token
            if stored is not None and stored.fresh(self.margin, unless=stale):
                self._cached = stored
                return stored
            slot.token = await self._renew(http, stored)
            self.renewals += 1
            self._cached = slot.token
            return slot.token

    async def _renew(self, http: httpx.AsyncClient, old: Token | None) -> Token:
        raise NotImplementedError


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError as exc:
        raise CRMProtocolError("the CRM's token answer is not JSON") from exc


def token_from(body: Any, *, keep_refresh: str | None = None) -> Token:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise CRMProtocolError("the token answer has no access_token")
    expires_in = body.get("expires_in")
    expires_at = body.get("expires_at")
    if isinstance(expires_in, int | float):
        expires_at = time.time() + float(expires_in)
    refresh = body.get("refresh_token")
    return Token(
        access_token=body["access_token"],
        refresh_token=refresh if isinstance(refresh, str) else keep_refresh,
        expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
    )


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, str]) -> httpx.Response:
    try:
        return await http.post(url, json=body)
    except httpx.TransportError as exc:
        raise CRMUnavailable(
            f"the CRM's auth endpoint is unreachable: {type(exc).__name__}"
        ) from exc


class JwtAuth(TokenAuth):
    def __init__(
        self, *, login_url: str, refresh_url: str, username: str, password: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._login_url, self._refresh_url = login_url, refresh_url
        self._credentials = {"username": username, "password": password}

    async def _renew(self, http: httpx.AsyncClient, old: Token | None) -> Token:
        if old is not None and old.refresh_token:
            answer = await _post(http, self._refresh_url, {"refresh_token": old.refresh_token})
            if answer.is_success:
                return token_from(_json(answer), keep_refresh=old.refresh_token)
            if answer.status_code >= 500:
                raise CRMUnavailable(
                    "the CRM failed to refresh the token", status=answer.status_code
                )
            # A refused refresh token: the credentials may still be good.
        answer = await _post(http, self._login_url, self._credentials)
        if answer.status_code in (400, 401, 403):
            raise CRMAuthError("the CRM refused the credentials", status=answer.status_code)
        if not answer.is_success:
            raise CRMUnavailable("the CRM's login failed", status=answer.status_code)
        return token_from(_json(answer))


class OAuthAuth(TokenAuth):
    """Client credentials through Authlib's httpx client, which builds the RFC 6749 request
    (form body, client authentication) and parses the answer and its errors."""

    def __init__(
        self, *, token_url: str, client_id: str, client_secret: str, timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._token_url = token_url
        self._client = (client_id, client_secret)
        self._timeout = timeout

    async def _renew(self, http: httpx.AsyncClient, old: Token | None) -> Token:
        client_id, secret = self._client
        async with AsyncOAuth2Client(
            client_id=client_id, client_secret=secret, timeout=self._timeout
        ) as oauth:
            try:
                body = await oauth.fetch_token(self._token_url, grant_type="client_credentials")
            except httpx.TransportError as exc:
                raise CRMUnavailable(
                    f"the token endpoint is unreachable: {type(exc).__name__}"
                ) from exc
            except Exception as exc:  # Authlib's OAuthError, or an HTTP error it raised
                raise CRMAuthError(f"the token endpoint refused the client: {exc}") from exc
        return token_from(dict(body))
