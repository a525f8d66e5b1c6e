"""Schemathesis over every operation of the OpenAPI schema, against a live server.

Checks: no 5xx anywhere, and every documented response matches its schema. Routes added by
later domains are covered automatically. `BAZAAR_SCHEMATHESIS_EXAMPLES` sets the examples per
operation (default 50).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

from bazaar.config import Settings
from tests.auth_fixtures import admin_api_key
from tests.backends import Backend

EXAMPLES = int(os.environ.get("BAZAAR_SCHEMATHESIS_EXAMPLES", "50"))


@pytest.fixture
def settings(backend: Backend) -> Settings:
    # One admin sends every request: the per-user rate limit must not turn the run into 429s.
    return backend.settings(auth_limit_per_user="1000000/minute")


@pytest.fixture
async def schemathesis_headers(settings: Settings, live_server: str) -> dict[str, str]:
    """Every operation runs as an admin, through an API key: a bearer token would end at the
    first fuzzed POST /auth/logout. (Logout, password change and key minting then answer 403.)"""
    return {"X-API-Key": await admin_api_key(settings)}


def fuzz(base_url: str, headers: dict[str, str]) -> dict[str, str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: dict[str, str] = {}
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # an operation schemathesis cannot read fails the run too
                invalid = result.err()
                failures[invalid.label] = f"InvalidSchema: {invalid.message}"[:2000]
                continue
            operation = result.ok()

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(
                    base_url=base_url,
                    session=session,
                    headers=headers,
                    checks=[not_a_server_error, response_schema_conformance],
                )

            try:
                check()
            # Collect every operation's failure, then report all. Schemathesis raises its check
            # failures as a FailureGroup, a BaseExceptionGroup that `except Exception` lets through.
            except (Exception, FailureGroup) as exc:
                failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    return failures


async def test_no_operation_answers_5xx_or_breaks_its_schema(
    live_server: str, schemathesis_headers: dict[str, str]
) -> None:
    failures = await asyncio.to_thread(fuzz, live_server, schemathesis_headers)
    assert failures == {}
