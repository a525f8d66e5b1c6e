"""`bazaar crm sync [--connection NAME]`: sync now from the shell, one progress bar per
entity. Takes each connection's lease like any run, so it never overlaps a scheduled one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from sqlalchemy import select

from bazaar.config import get_settings
from bazaar.crm.errors import SyncRunning
from bazaar.crm.mirror import runs
from bazaar.crm.mirror.metrics import SyncMetrics
from bazaar.crm.mirror.models import RunStatus
from bazaar.crm.models import CrmConnection
from bazaar.db import unit_of_work
from bazaar.observability.logging import configure_logging
from bazaar.runtime import Runtime

app = typer.Typer(help="The external CRM: sync with it.", no_args_is_help=True)


@app.command("sync")
def sync(
    connection: Annotated[
        str | None, typer.Option(help="The connection's name; default: every connection")
    ] = None,
) -> None:
    """Run a sync of one connection (or all) now and wait for it; exits 1 if any failed."""
    settings = get_settings()
    configure_logging(settings)

    async def work() -> bool:
        runtime = Runtime.create(settings)
        metrics = SyncMetrics(CollectorRegistry())
        ok = True
        try:
            async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
                query = select(CrmConnection.id, CrmConnection.name).order_by(CrmConnection.name)
                if connection is not None:
                    query = query.where(CrmConnection.name == connection)
                found = [(row[0], row[1]) for row in await session.execute(query)]
            if not found:
                typer.echo(f"no connection named {connection}", err=True)
                return False
            for connection_id, name in found:
                ok = await _one(runtime, metrics, connection_id, name) and ok
        finally:
            await runtime.close()
        return ok

    if not asyncio.run(work()):
        raise typer.Exit(1)


async def _one(runtime: Runtime, metrics: SyncMetrics, connection_id: uuid.UUID, name: str) -> bool:
    try:
        run_id = await runs.start_run(
            db=runtime.db,
            events=runtime.events,
            connection_id=connection_id,
            trigger="cli",
        )
    except SyncRunning as exc:
        typer.echo(f"{name}: a run is already going ({exc.details.get('run_id')})", err=True)
        return False
    typer.echo(f"{name}: run {run_id}")
    bars: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn()
    ) as progress:

        def show(entity: str, done: int, total: int) -> None:
            if entity not in bars:
                bars[entity] = progress.add_task(entity, total=total)
            progress.update(bars[entity], completed=done, total=total)

        status = await runs.execute(
            db=runtime.db, events=runtime.events, run_id=run_id, progress=show, metrics=metrics
        )
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        run = await runs.get_run(session=session, run_id=run_id)
        typer.echo(
            f"{name}: {status.value}: pulled {run.pulled}, pushed {run.pushed}, "
            f"created {run.created}, updated {run.updated}, deleted {run.deleted}, "
            f"conflicts {run.conflicts}, failed {run.failed}"
            + (f"; {run.error}" if run.error else "")
        )
    return status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
