"""The OpenAPI schema documents every operation: a description, an example for every request
body, and a page (never a bare array) for every list. Routes added later are held to it."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from bazaar.config import Settings
from bazaar.main import create_app


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(Settings(environment="test", database_url="sqlite+aiosqlite:///:memory:"))
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a `$ref` (or an optional body's `anyOf [ref, null]`) names."""
    schemas = spec["components"]["schemas"]
    for option in schema.get("anyOf", ()):
        if "$ref" in option:
            schema = option
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_operation_has_a_description(spec: dict[str, Any]) -> None:
    missing = [label for label, operation in _operations(spec) if not operation.get("description")]
    assert missing == [], "give these a docstring or description=: " + ", ".join(missing)


def test_every_request_body_has_a_valid_example(spec: dict[str, Any]) -> None:
    missing, invalid = [], []
    for label, operation in _operations(spec):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            schema = _resolve(spec, media.get("schema", {}))
            examples = schema.get("examples", [])
            if not examples:
                missing.append(f"{label} ({media_type})")
            # The schema with the components beside it, so its references resolve.
            validator = jsonschema_rs.validator_for(
                {**schema, "components": spec["components"]}, validate_formats=True
            )
            invalid += [f"{label}: {e.message}" for x in examples for e in validator.iter_errors(x)]
    assert missing == [], "add bazaar.examples.example(...) to: " + ", ".join(missing)
    assert invalid == []


def test_no_list_is_a_bare_array(spec: dict[str, Any]) -> None:
    arrays = [
        label
        for label, operation in _operations(spec)
        for status, answer in operation.get("responses", {}).items()
        if status.startswith("2")
        for media in answer.get("content", {}).values()
        if _resolve(spec, media.get("schema", {})).get("type") == "array"
    ]
    assert arrays == [], "answer a bazaar.pagination.Page: " + ", ".join(arrays)
