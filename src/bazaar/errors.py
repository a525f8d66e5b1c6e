"""One error format for the whole API.

    AppError                      500 internal_error
    ├── BadRequestError           400 bad_request (a body that cannot be read)
    ├── InvalidInputError         422 invalid_input
    ├── UnauthorizedError         401 unauthorized
    ├── ForbiddenError            403 forbidden
    ├── NotFoundError             404 not_found
    ├── ConflictError             409 conflict
    ├── PayloadTooLargeError      413 payload_too_large
    └── RateLimitedError          429 rate_limited (sets Retry-After)

Domains subclass these with their own `code`. Every error leaves as
`{"error": {"code", "message", "details"}, "request_id"}`. Routes name the errors they raise
in `responses=error_responses(...)`; dependencies declare theirs with `@raises(...)`, and every
route using one documents them (`bazaar.routing.Route`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from bazaar.db import SQLiteWriterBusy
from bazaar.observability.requests import current_request_id

log = structlog.get_logger(__name__)


class AppError(Exception):
    code: ClassVar[str] = "internal_error"
    status_code: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal server error"
    header_docs: ClassVar[Mapping[str, dict[str, Any]]] = {}
    """The headers `headers()` sets, as OpenAPI header objects."""

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        return {}


class BadRequestError(AppError):
    """What FastAPI answers (as HTTPException 400) for a body it cannot read, such as JSON that
    is not UTF-8."""

    code = "bad_request"
    status_code = 400
    default_message = "There was an error parsing the body"


class InvalidInputError(AppError):
    code = "invalid_input"
    status_code = 422
    default_message = "The request is not valid"


class UnauthorizedError(AppError):
    code = "unauthorized"
    status_code = 401
    default_message = "Authentication required"
    header_docs = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(AppError):
    code = "forbidden"
    status_code = 403
    default_message = "Not allowed"


class NotFoundError(AppError):
    code = "not_found"
    status_code = 404
    default_message = "Not found"


class ConflictError(AppError):
    code = "conflict"
    status_code = 409
    default_message = "The request conflicts with the current state"


class PayloadTooLargeError(AppError):
    code = "payload_too_large"
    status_code = 413
    default_message = "Request body too large"


class RateLimitedError(AppError):
    code = "rate_limited"
    status_code = 429
    default_message = "Too many requests"
    header_docs = {
        "Retry-After": {
            "description": "Seconds until the limit allows another request",
            "schema": {"type": "integer"},
        }
    }

    def __init__(
        self, message: str | None = None, *, retry_after: int, details: dict[str, Any] | None = None
    ):
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ErrorDetail(BaseModel):
    code: str = Field(examples=["loan_not_found"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str | None = None


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "details": jsonable_encoder(details or {})},
        "request_id": current_request_id(),
    }


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    response_headers: dict[str, str] = dict(headers or {})
    if request_id := current_request_id():
        response_headers["X-Request-ID"] = request_id
    return JSONResponse(
        error_body(code, message, details), status_code=status_code, headers=response_headers
    )


ERROR_CODES = "x-error-codes"
"""The OpenAPI response extension listing the `code`s a status can carry."""


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status it can answer with, described by its codes."""
    return merge_error_responses({}, (InvalidInputError, *errors))


def merge_error_responses(
    responses: Mapping[int | str, dict[str, Any]], errors: Iterable[type[AppError]]
) -> dict[int | str, dict[str, Any]]:
    """`responses` with `errors` added: the codes of one status are merged, not replaced."""
    merged = dict(responses)
    for error in errors:
        entry = merged.get(error.status_code, {})
        codes = sorted({*entry.get(ERROR_CODES, ()), error.code})
        headers = {**entry.get("headers", {}), **error.header_docs}
        merged[error.status_code] = {
            **entry,
            "model": ErrorBody,
            "description": "Error codes: " + ", ".join(codes),
            ERROR_CODES: codes,
            **({"headers": headers} if headers else {}),
        }
    return merged


_Dependency = TypeVar("_Dependency", bound=Callable[..., Any])
_RAISED_BY: dict[Callable[..., Any], tuple[type[AppError], ...]] = {}


def raises(*errors: type[AppError]) -> Callable[[_Dependency], _Dependency]:
    """Declares the errors a dependency can raise, for the schema of every route using it."""

    def declare(dependency: _Dependency) -> _Dependency:
        _RAISED_BY[dependency] = errors
        return dependency

    return declare


def raised_by(dependency: Callable[..., Any]) -> tuple[type[AppError], ...]:
    return _RAISED_BY.get(dependency, ())


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code >= 500:
        log.error("app_error", code=exc.code, exc_info=exc)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers())


NOT_JSON = "The body must be JSON, sent with the header Content-Type: application/json"


def _body_not_json(exc: RequestValidationError) -> bool:
    """FastAPI hands a JSON route its body undecoded when the Content-Type is missing or not
    JSON (`curl -d` sends form encoding), and the model then fails on the raw bytes; a form
    route gets form data, never bytes."""
    return isinstance(exc.body, bytes) and any(e["loc"][:1] == ("body",) for e in exc.errors())


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _body_not_json(exc):
        content_type = request.headers.get("content-type")
        return error_response(
            415, "unsupported_media_type", NOT_JSON, {"content_type": content_type}
        )
    fields = [
        {
            "loc": [str(part) for part in error["loc"]],
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return error_response(422, "validation_error", "Request validation failed", {"fields": fields})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # The router answers with the methods of the first route that matched the path only.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(dict(request.scope))
        if match is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # A unique or foreign-key violation that a service did not anticipate: usually two
    # requests racing for the same row. The transaction is already rolled back.
    log.warning("integrity_error", error=str(exc.__cause__ or exc))
    return error_response(409, "conflict", "The change conflicts with existing data")


async def _stale_data(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, "version_conflict", "The record was changed by someone else")


async def _writer_busy(_: Request, exc: Exception) -> JSONResponse:
    return error_response(
        503, "database_busy", "The database is busy; retry shortly", headers={"Retry-After": "1"}
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if not exc.connection_invalidated:
        return await _unexpected(request, exc)
    # The database dropped the connection (a restart, a failover): the pool has been told to
    # replace its connections, so the same request shortly after will find a fresh one.
    log.warning("database_connection_lost", error=str(exc.orig))
    return error_response(
        503,
        "database_unavailable",
        "The database connection was lost; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_exception", exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StaleDataError, _stale_data)
    app.add_exception_handler(SQLiteWriterBusy, _writer_busy)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
