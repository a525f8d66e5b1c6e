"""The class of every API route: `APIRouter(route_class=Route)`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute

from bazaar.errors import (
    AppError,
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    merge_error_responses,
    raised_by,
)

_PARAMETER = re.compile(r"\{(\w+)\}")


class Route(APIRoute):
    """An `APIRoute` whose schema and matching follow from its signature.

    - Its `responses` add the errors its dependencies declare (`errors.raises`: 401, 403 and 429
      come with authentication) and 400 and 413 when it reads a body, to those the route names
      itself.
    - A path parameter typed `uuid.UUID` matches only a UUID, so `/loans/{loan_id}` does not
      take `/loans/schedule-preview`, whose wrong method is then 405 instead of a loan id's 422.
      The schema keeps the plain `{loan_id}`, and lists the 404 a non-UUID id gets.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        dependant = get_dependant(path=path, call=endpoint)
        for depends in options.get("dependencies") or ():
            dependant.dependencies.append(get_dependant(path=path, call=depends.dependency))
        uuids = {p.name for d in _tree(dependant) for p in d.path_params if _is_uuid(p)}
        errors = _errors(dependant) + ([NotFoundError] if uuids else [])
        options["responses"] = merge_error_responses(options.get("responses") or {}, errors)
        typed = _PARAMETER.sub(lambda m: f"{{{m[1]}:uuid}}" if m[1] in uuids else m[0], path)
        super().__init__(typed, endpoint, **options)


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _tree(sub)


def _errors(dependant: Dependant) -> list[type[AppError]]:
    errors = [e for d in _tree(dependant) if d.call is not None for e in raised_by(d.call)]
    if any(d.body_params for d in _tree(dependant)):
        errors += [BadRequestError, PayloadTooLargeError]
    return errors


def _is_uuid(parameter: Any) -> bool:
    return parameter.field_info.annotation is uuid.UUID
