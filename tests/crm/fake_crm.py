"""A fake external CRM: a real HTTP server on 127.0.0.1 (FastAPI on Uvicorn, in a thread),
speaking the default contract of docs/crm.md with its own storage. Tests steer it: expire
tokens, limit requests per minute (429 with `Retry-After` in seconds or as an HTTP date),
fail in bursts of 500/503, drop connections, reject a record with 422, and page results."""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.conftest import free_port

RESOURCES = ("users", "clients", "projects", "tasks", "comments")


@dataclass
class Behaviour:
    token_ttl: float = 3600.0
    rate_limit_per_minute: int | None = None
    retry_after_as_date: bool = False
    send_rate_headers: bool = False
    rate_window: float = 60.0
    """Seconds `rate_limit_per_minute` is counted over (shorter in tests)."""
    failures: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    """(status, headers) to answer, one per request, before behaving: a burst of 500/503,
    a 429 with its Retry-After."""
    drops: int = 0
    """Requests whose connection is closed without an answer."""
    reject: set[str] = field(default_factory=set)
    """Names or titles refused with 422."""
    garbage_login: bool = False
    """The login answers HTML instead of a token."""
    garbage: deque[str] = field(default_factory=deque)
    """Raw bodies to answer to list requests, one each: malformed answers."""
    delay: float = 0.0
    """Seconds every request waits before it is answered: a slow CRM."""


@dataclass
class FakeCRM:
    username: str = "sync-bot"
    password: str = "s3cret-pass"
    client_id: str = "bazaar"
    client_secret: str = "client-s3cret"
    api_key: str = "key-123"
    behaviour: Behaviour = field(default_factory=Behaviour)
    records: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in RESOURCES}
    )
    tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    _arrivals: deque[float] = field(default_factory=deque)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def put(
        self, resource: str, *, updated_at: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A record as another user of the CRM would write it (at `updated_at`, default now)."""
        with self._lock:
            record_id = fields.pop("id", None) or f"{resource[:-1]}-{next(self._ids)}"
            record = {**self.records[resource].get(record_id, {}), **fields}
            record |= {
                "id": record_id,
                "updated_at": (updated_at or datetime.now(UTC)).isoformat(),
                "deleted_at": record.get("deleted_at"),
            }
            self.records[resource][record_id] = record
            return dict(record)

    def issue(self, *, refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = time.time() + self.behaviour.token_ttl
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.behaviour.token_ttl),
        }
        if refresh:
            body["refresh_token"] = secrets.token_urlsafe(16)
            self.refresh_tokens.add(body["refresh_token"])
        return body


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def build_app(crm: FakeCRM, server: FakeServer) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        if crm.behaviour.delay:
            await asyncio.sleep(crm.behaviour.delay)
        answer = _gate(crm, server, request)
        if answer is None:
            answer = await call_next(request)
        crm.statuses[answer.status_code] += 1
        b = crm.behaviour
        if b.send_rate_headers and b.rate_limit_per_minute is not None:
            with crm._lock:
                left = b.rate_limit_per_minute - len(crm._arrivals)
                oldest = crm._arrivals[0] if crm._arrivals else time.monotonic()
            answer.headers["X-RateLimit-Remaining"] = str(max(left, 0))
            answer.headers["X-RateLimit-Reset"] = (
                f"{b.rate_window - (time.monotonic() - oldest):.3f}"
            )
        return answer

    _auth_routes(app, crm)
    _resource_routes(app, crm)
    return app


def _gate(crm: FakeCRM, server: FakeServer, request: Request) -> Response | None:
    b = crm.behaviour
    with crm._lock:
        crm.counts["requests"] += 1
        if b.drops:
            b.drops -= 1
            server.drop(request)
            return Response(status_code=599)  # never reaches the client: the socket is gone
        if b.rate_limit_per_minute is not None:
            now = time.monotonic()
            while crm._arrivals and crm._arrivals[0] <= now - b.rate_window:
                crm._arrivals.popleft()
            if len(crm._arrivals) >= b.rate_limit_per_minute:
                wait = b.rate_window - (now - crm._arrivals[0])
                crm.counts["429"] += 1
                after = (
                    format_datetime(datetime.now(UTC) + timedelta(seconds=wait + 1), usegmt=True)
                    if b.retry_after_as_date
                    else str(int(wait) + 1)
                )
                return _error(429, "slow down", {"Retry-After": after})
            crm._arrivals.append(now)
        if b.failures:
            status, headers = b.failures.popleft()
            return _error(status, "temporarily broken", headers)
    if request.url.path.split("/")[3:4] == ["auth"] or request.url.path.endswith("/oauth/token"):
        return None
    if request.headers.get("X-API-Key") == crm.api_key:
        return None
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if crm.tokens.get(token, 0) <= time.time():
        return _error(401, "token expired or unknown")
    return None


def _auth_routes(app: FastAPI, crm: FakeCRM) -> None:
    @app.post("/api/v1/auth/login")
    async def login(body: dict[str, Any]) -> Response:
        crm.counts["logins"] += 1
        if crm.behaviour.garbage_login:
            return Response("<html>maintenance</html>", media_type="text/html")
        if body.get("username") != crm.username or body.get("password") != crm.password:
            return _error(401, "bad credentials")
        return JSONResponse(crm.issue(refresh=True))

    @app.post("/api/v1/auth/refresh")
    async def refresh(body: dict[str, Any]) -> Response:
        crm.counts["refreshes"] += 1
        if body.get("refresh_token") not in crm.refresh_tokens:
            return _error(401, "unknown refresh token")
        crm.refresh_tokens.discard(body["refresh_token"])
        return JSONResponse(crm.issue(refresh=True))

    @app.post("/oauth/token")
    async def oauth_token(request: Request) -> Response:
        crm.counts["oauth_tokens"] += 1
        form = await request.form()
        client = (form.get("client_id"), form.get("client_secret"))
        if request.headers.get("Authorization", "").startswith("Basic "):
            decoded = base64.b64decode(request.headers["Authorization"][6:]).decode()
            client = tuple(decoded.split(":", 1))  # type: ignore[assignment]
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if client != (crm.client_id, crm.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(crm.issue(refresh=False))


def _resource_routes(app: FastAPI, crm: FakeCRM) -> None:
    @app.get("/api/v1/{resource}")
    async def list_records(resource: str, request: Request) -> Response:
        if resource not in RESOURCES:
            return _error(404, "no such resource")
        if crm.behaviour.garbage:
            return Response(crm.behaviour.garbage.popleft(), media_type="application/json")
        q = request.query_params
        page, per_page = int(q.get("page", 1)), int(q.get("per_page", 50))
        rows = sorted(
            crm.records[resource].values(), key=lambda r: (r["updated_at"], r.get("id", ""))
        )
        if since := q.get("updated_since"):
            rows = [
                r
                for r in rows
                if datetime.fromisoformat(r["updated_at"]) >= datetime.fromisoformat(since)
            ]
        for name in ("entity_type", "entity_id"):
            if name in q:
                rows = [r for r in rows if r.get(name) == q[name]]
        chunk = rows[(page - 1) * per_page : page * per_page]
        return JSONResponse({"data": chunk, "page": page, "per_page": per_page, "total": len(rows)})

    @app.get("/api/v1/{resource}/{record_id}")
    async def get_record(resource: str, record_id: str) -> Response:
        record = crm.records.get(resource, {}).get(record_id)
        if record is None or record.get("deleted_at"):
            return _error(404, "not found")
        return JSONResponse(record)

    @app.post("/api/v1/{resource}")
    async def create_record(resource: str, body: dict[str, Any]) -> Response:
        if (body.get("name") or body.get("title")) in crm.behaviour.reject:
            return _error(422, f"{resource[:-1]} refused: name not allowed")
        return JSONResponse(
            crm.put(resource, **{k: v for k, v in body.items() if k != "id"}), status_code=201
        )

    @app.put("/api/v1/{resource}/{record_id}")
    async def update_record(resource: str, record_id: str, body: dict[str, Any]) -> Response:
        current = crm.records.get(resource, {}).get(record_id)
        if current is None or current.get("deleted_at"):
            return _error(404, "not found")
        if (body.get("name") or body.get("title")) in crm.behaviour.reject:
            return _error(422, f"{resource[:-1]} refused: name not allowed")
        fields = {k: v for k, v in body.items() if k not in ("id", "updated_at", "deleted_at")}
        return JSONResponse(crm.put(resource, id=record_id, **fields))

    @app.delete("/api/v1/{resource}/{record_id}")
    async def delete_record(resource: str, record_id: str) -> Response:
        if record_id not in crm.records.get(resource, {}):
            return _error(404, "not found")
        crm.put(resource, id=record_id, deleted_at=_now())
        return Response(status_code=204)


class FakeServer:
    """The fake CRM on its own Uvicorn in a thread, with its own event loop."""

    def __init__(self, crm: FakeCRM) -> None:
        self.crm = crm
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_app(crm, self), host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def drop(self, request: Request) -> None:
        # Close the socket under the request: the client sees the connection vanish.
        for connection in list(self.server.server_state.connections):
            if getattr(connection, "scope", None) is request.scope:
                connection.transport.close()
                return

    def __enter__(self) -> FakeServer:
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                return self
            time.sleep(0.025)
        raise RuntimeError("the fake CRM did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
