"""What happens before a request reaches the app: the body size limit, enforced while reading
so a huge body is never buffered, the trusted Host names, and one spelling of every path."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bazaar.errors import error_response
from bazaar.observability.requests import header

TOO_LARGE = "Request body too large"


class BodySizeLimitMiddleware:
    """Refuses a declared Content-Length over the limit before reading anything, and stops a
    chunked body as soon as it passes the limit (the 413 then comes from the error handler)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(
                413, "payload_too_large", TOO_LARGE, {"max_bytes": self.max_bytes}
            )
            await response(scope, receive, send)
            return
        if not header(scope, b"transfer-encoding"):
            # The body is the declared length (checked above) or, with neither header, empty
            # (RFC 9112 6.3): nothing to count, so no wrapper per request.
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counting_receive, send)


class TrustedHostMiddleware:
    """Refuses a request whose Host is not allowed (`*.example.com` allows its subdomains) with
    400 `invalid_host` in the one error body; Starlette's own answers in plain text. A socket
    from such a host is closed at the handshake."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.exact = {host.lower() for host in allowed_hosts if not host.startswith("*.")}
        self.suffixes = tuple(host[1:].lower() for host in allowed_hosts if host.startswith("*."))

    def allows(self, host_header: str) -> bool:
        # Host is `name[:port]` or `[ipv6][:port]`.
        host = host_header.lower()
        host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
        return host in self.exact or (bool(host) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or self.allows(Headers(scope=scope).get("host", "")):
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            response = error_response(400, "invalid_host", "The Host header is not served here")
            await response(scope, receive, send)


class TrailingSlashMiddleware:
    """Serves `/api/v1/loans/` as `/api/v1/loans`, the one spelling routes and the schema use.
    Without it the other spelling got a 307, which many clients do not follow with a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and len(path) > 1 and path.endswith("/"):
            # In place, not a copy: what the router records in the scope (its route, read by the
            # metrics middleware) must reach the middleware around this one.
            scope["path"] = path.rstrip("/") or "/"
            if raw_path := scope.get("raw_path"):
                scope["raw_path"] = raw_path.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
