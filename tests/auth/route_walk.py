"""The application's HTTP routes, as the authorization tests walk them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from bazaar.auth.dependencies import authenticate_request

# Routes anyone may call. A route neither here nor depending on authentication fails the tests:
# deny by default.
PUBLIC = frozenset(
    {
        ("POST", "/api/v1/auth/signup"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/signin"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/password-reset"),
        ("POST", "/api/v1/auth/password-reset/confirm"),
        # The payment gateway authenticates by the HMAC signature over the body, not a token.
        ("POST", "/api/v1/webhooks/payment-gateway"),
    }
)
API_PREFIX = "/api/v1/"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    protected: bool

    def url(self) -> str:
        """The path with every parameter filled by an id nothing has."""
        return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), self.path)


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def api_endpoints(app: FastAPI) -> Iterator[Endpoint]:
    # FastAPI >= 0.160 keeps included routers nested; this walks them with full paths.
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        if (
            path is None
            or not isinstance(route.original_route, APIRoute)
            or not path.startswith(API_PREFIX)
        ):
            continue
        protected = _depends_on(route.dependant, authenticate_request)
        for method in sorted(route.methods or ()):
            yield Endpoint(method, path, protected)
