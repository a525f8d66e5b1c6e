"""The `bazaar` command: serve, migrate, seed, worker, version."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
import uvicorn

from bazaar import __version__, domains
from bazaar.auth.cli import user_app
from bazaar.config import ConfigurationError, Settings, get_settings
from bazaar.demo import seed_demo
from bazaar.jobs import all_jobs
from bazaar.migrate import upgrade
from bazaar.observability.logging import configure_logging
from bazaar.realtime.service import route_events
from bazaar.runtime import Runtime
from bazaar.scheduler import Scheduler
from bazaar.sync.cli import node_app, sync_app

app = typer.Typer(help="Bazaar: the MSME marketplace backend.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(node_app, name="node")
app.add_typer(sync_app, name="sync")
for domain in domains.DOMAINS:
    for name, commands in domain.cli:
        app.add_typer(commands, name=name)


def load_settings() -> Settings:
    """Settings, or a one-line error naming the bad setting instead of a traceback."""
    try:
        return get_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface; default BAZAAR_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default BAZAAR_PORT")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Uvicorn workers; default BAZAAR_WORKERS")
    ] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the HTTP and WebSocket API with Uvicorn."""
    settings = load_settings()
    uvicorn.run(
        "bazaar.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=None if reload else (workers or settings.workers),
        # Uvicorn's 5 s default kills workers that a busy machine starts slowly, again and again.
        timeout_worker_healthcheck=settings.worker_start_seconds,
        reload=reload,
        access_log=False,
        log_config=None,
        # Refuse oversized WebSocket frames in the protocol layer, before buffering them.
        ws_max_size=settings.ws_max_message_bytes,
        proxy_headers=False,
        ws_per_message_deflate=settings.ws_compression,
    )


@app.command()
def migrate() -> None:
    """Apply every database migration (creates the SQLite file when needed)."""
    settings = load_settings()
    configure_logging(settings)

    async def run() -> None:
        runtime = Runtime.create(settings)
        try:
            await upgrade(runtime.db.engine)
        finally:
            await runtime.close()

    asyncio.run(run())
    typer.echo(f"database at head: {settings.database_url}")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data set")] = False,
) -> None:
    """Load data into a migrated database. Only the demo set exists; refused in production."""
    if not demo:
        raise typer.BadParameter("say what to seed: --demo")
    settings = load_settings()
    if settings.environment == "production":
        typer.echo("refused: demo data is not loaded in production", err=True)
        raise typer.Exit(2)
    configure_logging(settings)

    async def run() -> list[str]:
        runtime = Runtime.create(settings)
        try:
            return await seed_demo(runtime)
        finally:
            await runtime.close()

    for line in asyncio.run(run()):
        typer.echo(line)


@app.command()
def worker() -> None:
    """Run the scheduled jobs (sync loops, maintenance). Safe to start several: one leads."""
    settings = load_settings()
    configure_logging(settings)

    async def run() -> None:
        runtime = Runtime.create(settings)
        # Events committed by jobs still become notifications on the web workers' sockets.
        route_events(runtime)
        jobs = all_jobs()
        scheduler = Scheduler(runtime, jobs)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await scheduler.start()
        names = ", ".join(job.id for job in jobs)
        typer.echo(f"worker {scheduler.holder} running {names}; leader={scheduler.is_leader}")
        try:
            await stop.wait()
        finally:
            await scheduler.shutdown()
            await runtime.close()

    asyncio.run(run())


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)
