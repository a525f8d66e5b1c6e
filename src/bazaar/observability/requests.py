"""Request ids: accepted from a sane `X-Request-ID`, otherwise made; echoed and logged."""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from random import getrandbits

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
log = structlog.get_logger("bazaar.access")
_access = logging.getLogger("bazaar.access")


def header(scope: Scope, name: bytes) -> bytes:
    """A request header's first value (`name` lower-case), b"" when absent, without building a
    dict of every header as `dict(scope["headers"])` did per request."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def current_request_id() -> str | None:
    return _request_id.get()


class RequestIdMiddleware:
    """Outermost middleware: every log line and every response of a request carry its id.

    The id is left in the context after the request on purpose: the server-error handler runs
    outside this middleware and still needs it. Each request runs in its own task context.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id").decode("latin-1")
        # 128 random bits as 32 hex digits, as uuid4().hex gave, without its read of the OS's
        # randomness per request: an id only needs to be unique, not unguessable.
        request_id = incoming if _SANE_ID.match(incoming) else f"{getrandbits(128):032x}"
        _request_id.set(request_id)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Checked first: a dropped line still cost the keyword arguments and the logger's
            # processor chain on every request.
            if scope["type"] == "http" and _access.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
