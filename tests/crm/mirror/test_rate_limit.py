"""A sync run against a CRM that allows N requests per window: with the connection's limit
set to N it never sees a 429; with a limit above the server's it waits out the 429s
(`Retry-After`) and still syncs every record. The server's "minute" is 2 s here and the
client's 3 s, the same one-second margin the real 60/61 s windows keep (limiter.py)."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from bazaar.crm.mirror import runs
from bazaar.crm.mirror.models import RunStatus
from tests.crm.mirror.conftest import Mirror

SERVER_LIMIT, SERVER_WINDOW, CLIENT_WINDOW = 5, 2.0, 3
RECORDS, BATCH = 12, 2
"""12 clients at 2 a page: 7 list requests, more than one window's 5."""


async def _sync(app: FastAPI, mirror: Mirror) -> RunStatus:
    runtime = app.state.runtime
    connection_id = uuid.UUID(mirror.connection["id"])
    run_id = await runs.start_run(
        db=runtime.db, events=runtime.events, connection_id=connection_id, trigger="api"
    )
    return await runs.execute(
        db=runtime.db, events=runtime.events, run_id=run_id, rate_window=CLIENT_WINDOW
    )


@pytest.mark.parametrize(
    ("client_limit", "expect_429"), [(SERVER_LIMIT, False), (6000, True)], ids=["set", "above"]
)
async def test_a_run_under_a_server_rate_limit_syncs_every_record(
    app: FastAPI, mirror: Mirror, client_limit: int, expect_429: bool
) -> None:
    fake = mirror.fake
    names = {fake.put("clients", name=f"Client {n}")["name"] for n in range(RECORDS)}
    await mirror.configure(
        direction="pull",
        entities=["clients"],
        batch_size=BATCH,
        rate_limit_per_minute=client_limit,
        max_retries=5,
    )
    fake.behaviour.rate_limit_per_minute = SERVER_LIMIT
    fake.behaviour.rate_window = SERVER_WINDOW

    status = await _sync(app, mirror)

    assert status is RunStatus.SUCCEEDED
    assert {c["name"] for c in await mirror.locals("clients")} == names
    assert (fake.statuses[429] > 0) is expect_429, fake.statuses
    assert fake.statuses[200] >= RECORDS // BATCH + 1
