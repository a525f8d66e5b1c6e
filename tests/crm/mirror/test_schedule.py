"""The scheduled `crm-sync` job, called as the scheduler's leader calls it: it syncs the
connection whose interval has passed and leaves alone the one synced a moment ago."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bazaar.jobs import all_jobs
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
