"""CRMClient: requests to the external CRM under the connection's budget, auth and retries.

429, 5xx, 408, 409 and network errors are retried up to `max_retries` times with exponential
backoff and full jitter (a random wait between 0 and the exponential bound, so many clients do
not retry in step), never sooner than the server's `Retry-After` (seconds or an HTTP date;
the longest wait wins). A 401 renews the token and retries once. Other 4xx are the record's
fault and raise CRMValidationError with the server's message at once.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from bazaar.crm.client.auth import Auth
from bazaar.crm.client.dialect import DEFAULT_DIALECT, Dialect
from bazaar.crm.client.errors import (
    CRMAuthError,
    CRMError,
    CRMProtocolError,
    CRMRateLimited,
    CRMUnavailable,
    CRMValidationError,
)
from bazaar.crm.client.limiter import RequestBudget
from bazaar.crm.client.models import MODELS, ExternalRecord, RecordPage
from bazaar.tls import client_context

RETRIED_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 300.0  # a server asking for more is treated as down for this run


@dataclass(frozen=True)
class CRMSettings:
    base_url: str
    api_version: str = "v1"
    timeout: float = 10.0
    max_retries: int = 3
    rate_limit_per_minute: int | None = 60
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    rate_window: int = 61
    """Seconds the per-minute limit is counted over: a second more than a minute (see
    limiter.py); shorter only in tests."""

    @property
    def api_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/{self.api_version}/"


@dataclass
class ClientStats:
    calls: Counter[int] = field(default_factory=Counter)
    """Answers by HTTP status; 0 for network errors."""
    retries: int = 0
    backoff_seconds: float = 0.0


class _Retryable(CRMError):
    """A transient failure, carrying what to raise when the retries run out."""

    def __init__(self, final: CRMError, retry_after: float | None) -> None:
        super().__init__(final.message, status=final.status)
        self.final = final
        self.retry_after = retry_after


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if body.get(key):
                return str(body[key])[:500]
    return str(body)[:500]


class CRMClient:
    def __init__(
        self,
        settings: CRMSettings,
        auth: Auth,
        dialect: Dialect = DEFAULT_DIALECT,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_auth_failed: Callable[[CRMAuthError], Any] | None = None,
    ) -> None:
        self.settings, self.auth, self.dialect = settings, auth, dialect
        self.budget = RequestBudget(settings.rate_limit_per_minute, window=settings.rate_window)
        self.stats = ClientStats()
        self._on_auth_failed = on_auth_failed
        self._http = httpx.AsyncClient(
            base_url=settings.api_url,
            timeout=settings.timeout,
            transport=transport,
            verify=client_context(),
        )

    async def __aenter__(self) -> CRMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    def url(self, path: str) -> str:
        return f"{self.settings.api_url}{path}"

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            wait=self._wait,
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, params, json)
        except _Retryable as exc:
            raise exc.final from exc
        except CRMAuthError as exc:
            await self._report(exc)
            raise
        raise AssertionError("tenacity neither returned nor raised")  # pragma: no cover

    async def authenticate(self) -> None:
        """Obtain credentials now (a health check), reporting refused ones as a request does."""
        try:
            await self.auth.headers(self._http)
        except CRMAuthError as exc:
            await self._report(exc)
            raise

    async def _report(self, exc: CRMAuthError) -> None:
        if self._on_auth_failed is not None:
            await self._on_auth_failed(exc)

    def _wait(self, state: RetryCallState) -> float:
        bound = min(
            self.settings.backoff_max, self.settings.backoff_base * 2 ** (state.attempt_number - 1)
        )
        wait = random.uniform(0, bound)
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return wait

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        if state.next_action is not None:
            self.stats.backoff_seconds += state.next_action.sleep

    async def _once(self, method: str, path: str, params: dict[str, Any] | None, json: Any) -> Any:
        for renewed in (False, True):
            await self.budget.acquire()
            headers = await self.auth.headers(self._http)
            try:
                response = await self._http.request(
                    method, path, params=params, json=json, headers=headers
                )
            except httpx.TransportError as exc:
                self.stats.calls[0] += 1
                failure = CRMUnavailable(f"network error: {type(exc).__name__}")
                raise _Retryable(failure, None) from exc
            self.stats.calls[response.status_code] += 1
            self.budget.observe(response.headers)
            if response.status_code == 401 and not renewed:
                await self.auth.rejected(self._http, headers)
                continue
            return self._answer(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401:
            raise CRMAuthError("the CRM refused the renewed credentials", status=401)
        wait = retry_after(response.headers.get("Retry-After"))
        if wait is not None and wait > MAX_RETRY_AFTER:
            raise CRMUnavailable(f"the CRM asks to wait {wait:.0f} s", status=status)
        if status == 429:
            raise _Retryable(CRMRateLimited("rate limited by the CRM", retry_after=wait), wait)
        if status >= 500 or status == 408:
            raise _Retryable(CRMUnavailable(f"the CRM answered {status}", status=status), wait)
        if status in RETRIED_STATUSES:
            raise _Retryable(CRMValidationError(_message(response), status=status), wait)
        if status >= 400:
            raise CRMValidationError(_message(response), status=status)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CRMProtocolError(
                f"the CRM answered {status} with a body that is not JSON"
            ) from exc

    def _record(self, resource: str, body: Any) -> ExternalRecord:
        if not isinstance(body, dict):
            raise CRMProtocolError(f"a {resource} record is not an object")
        try:
            return MODELS[resource].model_validate(self.dialect.to_ours(resource, body))
        except ValidationError as exc:
            raise CRMProtocolError(
                f"a {resource} record does not follow the contract: {exc.errors()[0]['msg']}"
            ) from exc

    async def list(
        self,
        resource: str,
        *,
        page: int = 1,
        per_page: int = 100,
        updated_since: datetime | None = None,
        path: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> RecordPage[ExternalRecord]:
        d = self.dialect
        query: dict[str, Any] = {d.page_param: page, d.per_page_param: per_page, **(params or {})}
        if updated_since is not None:
            query[d.updated_since_param] = updated_since.isoformat()
        body = await self.request("GET", path or d.path(resource), params=query)
        if not isinstance(body, dict) or not isinstance(body.get(d.data_key), list):
            raise CRMProtocolError(f"the {resource} list has no '{d.data_key}' array")
        records, failed = [], []
        for item in body[d.data_key]:
            try:
                records.append(self._record(resource, item))
            except CRMProtocolError as exc:
                failed.append((item, exc.message))
        total = body.get(d.total_key)
        if not isinstance(total, int):
            raise CRMProtocolError(f"the {resource} list has no integer '{d.total_key}'")
        return RecordPage(records=records, page=page, per_page=per_page, total=total, failed=failed)

    async def pages(
        self,
        resource: str,
        *,
        per_page: int = 100,
        updated_since: datetime | None = None,
        start: int = 1,
    ) -> AsyncIterator[RecordPage[ExternalRecord]]:
        page = start
        while True:
            found = await self.list(
                resource, page=page, per_page=per_page, updated_since=updated_since
            )
            yield found
            if page * per_page >= found.total or not (found.records or found.failed):
                return
            page += 1

    async def get(self, resource: str, record_id: str) -> ExternalRecord:
        return self._record(
            resource, await self.request("GET", f"{self.dialect.path(resource)}/{record_id}")
        )

    async def create(self, resource: str, data: dict[str, Any]) -> ExternalRecord:
        body = self.dialect.to_theirs(resource, data)
        return self._record(
            resource, await self.request("POST", self.dialect.path(resource), json=body)
        )

    async def update(self, resource: str, record_id: str, data: dict[str, Any]) -> ExternalRecord:
        body = self.dialect.to_theirs(resource, data)
        path = f"{self.dialect.path(resource)}/{record_id}"
        return self._record(resource, await self.request("PUT", path, json=body))

    async def delete(self, resource: str, record_id: str) -> None:
        await self.request("DELETE", f"{self.dialect.path(resource)}/{record_id}")

    async def project_tasks(self, project_id: str) -> RecordPage[ExternalRecord]:
        return await self.list("tasks", path=f"{self.dialect.path('projects')}/{project_id}/tasks")

    async def client_projects(self, client_id: str) -> RecordPage[ExternalRecord]:
        return await self.list(
            "projects", path=f"{self.dialect.path('clients')}/{client_id}/projects"
        )

    async def user_tasks(self, user_id: str) -> RecordPage[ExternalRecord]:
        return await self.list("tasks", path=f"{self.dialect.path('users')}/{user_id}/tasks")

    async def user_projects(self, user_id: str) -> RecordPage[ExternalRecord]:
        return await self.list("projects", path=f"{self.dialect.path('users')}/{user_id}/projects")

    async def comments_on(self, entity_type: str, entity_id: str) -> RecordPage[ExternalRecord]:
        return await self.list(
            "comments", params={"entity_type": entity_type, "entity_id": entity_id}
        )

    async def assign_task(self, task_id: str, assignee_id: str | None) -> ExternalRecord:
        path = f"{self.dialect.path('tasks')}/{task_id}/assign"
        return self._record(
            "tasks", await self.request("PATCH", path, json={"assignee_id": assignee_id})
        )

    async def set_task_status(self, task_id: str, status: str) -> ExternalRecord:
        path = f"{self.dialect.path('tasks')}/{task_id}/status"
        return self._record("tasks", await self.request("PATCH", path, json={"status": status}))
