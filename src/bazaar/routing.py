"""The class of every API route: `APIRouter(route_class=Route)`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute

from bazaar.errors import AppError, BadRequestError, merge_error_responses, raised_by


class Route(APIRoute):
    """An `APIRoute` whose `responses` add, to those the route names itself, the errors its
    dependencies declare (`errors.raises`: 401, 403 and 429 come with authentication) and 400
    when it reads a body."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        dependant = get_dependant(path=path, call=endpoint)
        for depends in options.get("dependencies") or ():
            dependant.dependencies.append(get_dependant(path=path, call=depends.dependency))
        options["responses"] = merge_error_responses(
            options.get("responses") or {}, _errors(dependant)
        )
        super().__init__(path, endpoint, **options)


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _tree(sub)


def _errors(dependant: Dependant) -> list[type[AppError]]:
    errors = [e for d in _tree(dependant) if d.call is not None for e in raised_by(d.call)]
    if any(d.body_params for d in _tree(dependant)):
        errors.append(BadRequestError)
    return errors
