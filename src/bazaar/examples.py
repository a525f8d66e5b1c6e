"""Examples for request bodies, shown by /docs and ReDoc: every request body schema carries one
(tests/test_openapi_docs.py checks that each exists and is valid against its schema)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

# Ids in examples: UUIDv7, as the API makes them.
OFFICER_ID = "01a23bb3-b5ae-7dce-87af-21feaaafb3fa"
CUSTOMER_ID = "01a23bb3-c1d2-7e0f-9a1b-2c3d4e5f6a7b"
LOAN_ID = "01a23bb3-d4e5-7f60-8b1c-3d4e5f6a7b8c"
RECORD_ID = "01a23bb3-e5f6-7a71-9c2d-4e5f6a7b8c9d"


def example(values: dict[str, Any]) -> ConfigDict:
    """A model's configuration that adds one example; a subclass keeps its parent's config."""
    return ConfigDict(json_schema_extra={"examples": [values]})
