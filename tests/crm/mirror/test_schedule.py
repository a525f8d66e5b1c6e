"""The scheduled `crm-sync` job, called as the scheduler's leader calls it: it syncs the
connection whose interval has passed and leaves alone the one synced a moment ago."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from bazaar.crm.mirror.models import RunStatus, SyncRun
from bazaar.jobs import all_jobs
from bazaar.stamps import utcnow
from tests.crm.fake_crm import FakeCRM, FakeServer
from tests.crm.mirror.conftest import Mirror, connect


async def _runs(mirror: Mirror, connection: dict[str, Any]) -> list[tuple[str, str]]:
    answer = await mirror.crm.get("crm/runs", mirror.crm.admin, connection_id=connection["id"])
    assert answer.status_code == 200, answer.text
    return [(run["trigger"], run["status"]) for run in answer.json()["items"]]


async def test_the_job_syncs_due_connections_and_skips_the_others(
    app: FastAPI, mirror: Mirror
) -> None:
    (job,) = [job for job in all_jobs() if job.id == "crm-sync"]
    await mirror.sync()  # synced now: not due for another 15 minutes
    mirror.fake.put("clients", name="Written after the last run")
    with FakeServer(FakeCRM()) as other:
        other.crm.put("clients", name="Never synced yet")
        due = await connect(mirror.crm, other, name="Second CRM")

        await job.func(app.state.runtime)

    names = {c["name"] for c in await mirror.locals("clients")}
    assert names == {"Never synced yet"}
    assert await _runs(mirror, due) == [("schedule", "succeeded")]
    assert await _runs(mirror, mirror.connection) == [("api", "succeeded")]
    pulled = ("bazaar_crm_sync_records_total", (("direction", "pull"), ("entity", "clients")))
    assert (await mirror.metrics())[pulled] == 1  # the scheduled run's record, on /metrics


async def test_the_status_page_shows_each_connections_last_runs_and_checkpoints(
    app: FastAPI, mirror: Mirror
) -> None:
    await mirror.sync()
    with FakeServer(FakeCRM()) as other:
        never = await connect(mirror.crm, other, name="Zeta CRM")
    connection_id = uuid.UUID(mirror.connection["id"])
    started = utcnow() - timedelta(days=1)
    async with app.state.runtime.db.sessionmaker() as session:
        # 25 older runs: the 20 that count for the success rate are 15 succeeded and 5 failed.
        for number in range(25):
            status = RunStatus.FAILED if number < 10 else RunStatus.SUCCEEDED
            session.add(
                SyncRun(
                    connection_id=connection_id,
                    status=status,
                    started_at=started + timedelta(minutes=number),
                )
            )
        await session.commit()

    answer = await mirror.crm.get("crm/sync/status", mirror.crm.admin)
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["items"]
    # The latest is the real run just made, then 19 of the added: 15 succeeded, 4 failed.
    assert first["success_rate"] == 16 / 20
    assert first["last_run"]["trigger"] == "api"
    assert {c["entity"] for c in first["checkpoints"]} >= {"clients"}
    assert first["open_conflicts"] == 0
    assert (second["connection_id"], second["last_run"], second["success_rate"]) == (
        never["id"],
        None,
        None,
    )
