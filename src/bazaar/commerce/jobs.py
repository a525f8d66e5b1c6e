"""Commerce's periodic work: expired holds give their units back, expired points are written
off, orders whose return window closed earn their points, and payments whose capture did not
answer are captured."""

from __future__ import annotations

from bazaar.commerce import inventory, loyalty, placement, returns
from bazaar.commerce.payments.gateway import HttpGateway
from bazaar.commerce.rules import Shop
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.scheduler import Job
from bazaar.stamps import utcnow

SWEEP_SECONDS = 30
"""A hold outlives its expiry by at most this long (plus a batch's work)."""


async def release_expired_job(runtime: Runtime) -> None:
    async with unit_of_work(runtime.db, runtime.events) as session:
        await inventory.release_expired(session=session, now=utcnow())


async def expire_points_job(runtime: Runtime) -> None:
    async with unit_of_work(runtime.db, runtime.events) as session:
        await loyalty.expire_due(session=session, now=utcnow())


async def credit_points_job(runtime: Runtime) -> None:
    shop = Shop.from_settings(runtime.settings)
    async with unit_of_work(runtime.db, runtime.events) as session:
        await returns.credit_closed_windows(session=session, shop=shop, now=utcnow())


POINTS_SWEEP_SECONDS = 3600
"""Balances already leave out due points; the sweep only writes them on the ledger."""


async def capture_payments_job(runtime: Runtime) -> None:
    async with HttpGateway.from_settings(runtime.settings) as gateway:
        await placement.capture_waiting(runtime=runtime, gateway=gateway)


JOBS = (
    Job("commerce-release-expired-holds", release_expired_job, seconds=SWEEP_SECONDS),
    Job("commerce-expire-points", expire_points_job, seconds=POINTS_SWEEP_SECONDS),
    Job("commerce-credit-points", credit_points_job, seconds=POINTS_SWEEP_SECONDS),
    Job("commerce-capture-payments", capture_payments_job, seconds=60),
)
