"""Only one of several schedulers leads; a dead leader's lease is taken over."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from bazaar.db import unit_of_work
from bazaar.leader import try_acquire
from bazaar.runtime import Runtime
from bazaar.scheduler import Job, Scheduler


async def acquire(app: FastAPI, holder: str, ttl: timedelta) -> bool:
    async with unit_of_work(app.state.runtime.db, app.state.runtime.events) as session:
        return await try_acquire(session=session, name="t", holder=holder, ttl=ttl)


async def test_one_holder_at_a_time_and_renewal(app: FastAPI) -> None:
    minute = timedelta(minutes=1)
    assert await acquire(app, "a", minute)
    assert not await acquire(app, "b", minute)
    assert await acquire(app, "a", minute)  # the holder renews


async def test_expired_lease_is_taken_over(app: FastAPI) -> None:
    assert await acquire(app, "a", timedelta(seconds=-1))
    assert await acquire(app, "b", timedelta(minutes=1))


async def test_only_the_leader_runs_jobs(app: FastAPI) -> None:
    runs: list[str] = []

    async def job(runtime: Runtime) -> None:
        runs.append(runtime.settings.node_id)

    registered = Job("test-job", job, seconds=3600)
    first = Scheduler(app.state.runtime, [registered])
    second = Scheduler(app.state.runtime, [registered])
    await first.contend()
    await second.contend()
    assert (first.is_leader, second.is_leader) == (True, False)
    await first._run(registered)
    await second._run(registered)
    assert len(runs) == 1
