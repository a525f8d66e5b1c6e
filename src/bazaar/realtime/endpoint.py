"""One WebSocket session: the handshake checks, then the client's messages until it ends.

Every refusal happens before `accept`, so a refused client never receives a frame: it gets
an HTTP error (401 no or bad token, 403 Origin or user mismatch) with the usual error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from urllib.parse import urlsplit

from pydantic import ValidationError
from starlette.websockets import WebSocket

from bazaar.auth.authentication import authenticate
from bazaar.config import Settings
from bazaar.errors import UnauthorizedError, error_response
from bazaar.realtime.connection import Connection, FloodBucket
from bazaar.realtime.hub import Hub, error_frame
from bazaar.realtime.messages import CloseCode, client_message

# `new WebSocket(url, ["bearer", token])` sends the token as the second offered subprotocol.
BEARER_PROTOCOL = "bearer"
_CLOSE_GRACE = 5.0
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")


class RedactTokens(logging.Filter):
    """Uvicorn logs every WebSocket handshake with its query string, `?token=` included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def redact_tokens_in_server_logs() -> None:
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, RedactTokens) for f in server_log.filters):
        server_log.addFilter(RedactTokens())


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    # Browsers always send Origin; clients without one are not browsers and cannot be
    # tricked into cross-site requests, so only a present Origin is checked.
    if origin is None or "*" in allowed or origin in allowed:
        return True
    return urlsplit(origin).netloc == host


def offered_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The token and the subprotocol to answer with (None when it came as ?token=)."""
    offered: list[str] = websocket.scope.get("subprotocols", [])
    if BEARER_PROTOCOL in offered:
        at = offered.index(BEARER_PROTOCOL)
        return (offered[at + 1] if at + 1 < len(offered) else None), BEARER_PROTOCOL
    return websocket.query_params.get("token"), None


async def refuse(websocket: WebSocket, hub: Hub, status: int, code: str, message: str) -> None:
    hub.metrics.refused.labels(code).inc()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, code, message))
    else:
        await websocket.close(code=CloseCode.POLICY_VIOLATION)


async def serve(websocket: WebSocket, *, path_user: str | None) -> None:
    state = websocket.app.state
    hub: Hub = state.runtime.realtime
    settings: Settings = state.runtime.settings
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), settings.cors_origins):
        await refuse(websocket, hub, 403, "origin_not_allowed", "This Origin may not connect")
        return
    token, subprotocol = offered_token(websocket)
    if not token:
        await refuse(websocket, hub, 401, "missing_token", "Send the access token")
        return
    try:
        authenticated = await authenticate(token, app_state=state)
    except UnauthorizedError as exc:
        await refuse(websocket, hub, 401, exc.code, exc.message)
        return
    principal = authenticated.principal
    if path_user is not None and path_user != str(principal.user_id):
        await refuse(websocket, hub, 403, "user_mismatch", "The path names another user")
        return
    await websocket.accept(subprotocol=subprotocol)
    if not hub.reserve():
        hub.metrics.refused.labels("too_many_connections").inc()
        await websocket.close(code=CloseCode.TRY_AGAIN_LATER)
        return
    claims = authenticated.claims
    credential = claims.session_id if claims is not None else principal.api_key_id
    connection = hub.connection(websocket, principal, credential=str(credential))
    try:
        await hub.attach(connection)
        await _until_closed(hub, connection, settings)
    finally:
        connection.close(None)
        # Returning ends the ASGI call and uvicorn drops the transport: let a close frame
        # the sender is writing (1008, 1009, 4001, ...) reach the client first.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.wait_sender(), _CLOSE_GRACE)
        await hub.detach(connection)


async def _until_closed(hub: Hub, connection: Connection, settings: Settings) -> None:
    """Read the client until it leaves or the server closes the socket (revoked, dropped)."""
    receiver = asyncio.create_task(_receive(hub, connection, settings))
    finished = asyncio.create_task(connection.finished.wait())
    try:
        done, _ = await asyncio.wait({receiver, finished}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (receiver, finished):
            task.cancel()
        await asyncio.gather(receiver, finished, return_exceptions=True)
    if receiver in done:
        receiver.result()


async def _receive(hub: Hub, connection: Connection, settings: Settings) -> None:
    bucket = FloodBucket(rate=settings.ws_rate_per_second, burst=settings.ws_rate_burst)
    limit = settings.ws_max_message_bytes
    websocket = connection.websocket
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            connection.close(None)
            return
        raw: str | bytes = message.get("text") or message.get("bytes") or b""
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > limit:
            hub.close_connection(connection, CloseCode.MESSAGE_TOO_BIG)
            return
        connection.last_seen = time.monotonic()
        if not bucket.allow():
            if bucket.strikes > settings.ws_rate_burst:
                hub.close_connection(connection, CloseCode.POLICY_VIOLATION)
                return
            if bucket.strikes == 1:
                connection.push(error_frame("rate_limited", "Too many messages; slow down"))
            continue
        try:
            parsed = client_message.validate_json(raw)
        except ValidationError as exc:
            problem = exc.errors(include_url=False, include_context=False)[0]["msg"]
            connection.push(error_frame("invalid_message", problem))
            continue
        await hub.handle(connection, parsed)
