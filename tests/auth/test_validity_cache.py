"""The credential check reads the database once per credential and second, not per request,
and forgets at once what this process revokes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from tests.auth_fixtures import LoginAs

from bazaar.auth.roles import Role

ME = "/api/v1/auth/me"


@contextmanager
def validity_reads(app: FastAPI) -> Iterator[list[str]]:
    """Statements that check a session's validity (they read refresh_tokens), as run."""
    seen: list[str] = []
    engine = app.state.runtime.db.engine.sync_engine

    def record(*args: Any) -> None:
        statement = args[2]
        if "refresh_tokens" in statement and "users" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_repeated_requests_check_the_session_once(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.OFFICER)
    with validity_reads(app) as reads:
        answers = [await client.get(ME, headers=user.headers) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 5
    assert len(reads) == 1


async def test_a_logout_here_is_refused_on_the_next_request_despite_the_cache(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.CUSTOMER)
    assert (await client.get(ME, headers=user.headers)).status_code == 200

    logout = await client.post("/api/v1/auth/logout", headers=user.headers)
    after = await client.get(ME, headers=user.headers)

    assert logout.status_code == 204
    assert after.status_code == 401
