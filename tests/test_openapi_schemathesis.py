"""Schemathesis over every operation of the OpenAPI schema, against a live server, as an outside
tester would run it: as an admin, an officer and a customer, with valid and with invalid data.

Checks: no 5xx anywhere; every status, content type, header and body the schema documents;
and invalid data refused (negative data rejection). Routes added by later domains are covered
automatically. `BAZAAR_SCHEMATHESIS_EXAMPLES` sets the examples per operation and mode
(default 15: three roles, two modes and every operation on two backends within CI's budget).
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
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bazaar.auth.roles import Role
from bazaar.config import Settings
from tests.auth_fixtures import live_headers
from tests.backends import Backend

EXAMPLES = int(os.environ.get("BAZAAR_SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Schemathesis's refusals of invalid input, and 413: a fuzzed body that breaks the schema and
# passes the size limit is refused for its size first (documented on every operation that reads
# a body).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REFUSALS, "5xx"]}}}
)
# A fuzzed call to these would end the access token the run goes on with.
ENDS_THE_SESSION = {"POST /api/v1/auth/logout", "POST /api/v1/auth/change-password"}


@pytest.fixture
def settings(backend: Backend) -> Settings:
    # One user sends every request: the rate limits must not turn the run into 429s.
    return backend.settings(
        auth_limit_per_user="1000000/minute",
        auth_limit_login_address="1000000/minute",
        auth_limit_login_account="1000000/minute",
        auth_limit_signup_address="1000000/minute",
        auth_limit_refresh_address="1000000/minute",
        auth_limit_reset_address="1000000/minute",
    )


def fuzz(base_url: str, headers: dict[str, str], token: bool) -> dict[str, str]:
    failures: dict[str, str] = {}
    with requests.Session() as session:
        # Building the schema is the slowest request of a run: give it more than the 10 s
        # schemathesis allows, for a machine busy with other work.
        document = session.get(f"{base_url}/openapi.json", timeout=120).json()
        schema = schemathesis.openapi.from_dict(document, config=CONFIG)
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # an operation schemathesis cannot read fails the run too
                invalid = result.err()
                failures[invalid.label] = f"InvalidSchema: {invalid.message}"[:2000]
                continue
            operation = result.ok()
            if token and operation.label in ENDS_THE_SESSION:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _run(operation, mode, base_url, session, headers)
                except Unsatisfiable:
                    continue  # no invalid input exists for an operation without parameters
                # Collect every failure, then report all. Schemathesis raises its failures as a
                # FailureGroup, a BaseExceptionGroup that `except Exception` lets through.
                except (Exception, FailureGroup) as exc:
                    label = f"{operation.label} [{mode.value}]"
                    failures[label] = f"{type(exc).__name__}: {exc}"[:2000]
    return failures


def _run(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

    check()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OFFICER, Role.CUSTOMER])
async def test_no_operation_answers_5xx_breaks_its_schema_or_takes_bad_input(
    live_server: str, settings: Settings, role: Role
) -> None:
    headers = await live_headers(settings, role)
    failures = await asyncio.to_thread(fuzz, live_server, headers, role is not Role.ADMIN)
    assert failures == {}, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
