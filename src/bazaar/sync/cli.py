"""`bazaar node join` and `bazaar sync now|status|compact`."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import SecretStr

from bazaar.config import Settings, get_settings
from bazaar.db import unit_of_work
from bazaar.migrate import upgrade
from bazaar.observability.logging import configure_logging
from bazaar.runtime import Runtime
from bazaar.sync import compaction, service
from bazaar.sync.client import HubClient
from bazaar.sync.worker import find_hub_peer, worker_for

node_app = typer.Typer(help="Make this Bazaar a field node of a hub.", no_args_is_help=True)
sync_app = typer.Typer(help="Sync this field node with its hub.", no_args_is_help=True)


class _NotEmpty(Exception):
    """The database a node would join with already holds rows."""


def _write_env(path: Path, values: dict[str, str]) -> None:
    """Set these keys in a .env file, keeping every other line."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in values]
    path.write_text("\n".join([*kept, *(f"{k}={v}" for k, v in values.items())]) + "\n")
    path.chmod(0o600)


async def _cycle(settings: Settings) -> dict[str, Any]:
    runtime = Runtime.create(settings)
    try:
        worker = await worker_for(runtime)
        return (await worker.cycle()).as_dict()
    finally:
        await runtime.close()


@node_app.command("join")
def join(
    hub_url: Annotated[str, typer.Argument(help="The hub, e.g. https://hq.example.org")],
    api_key: Annotated[str, typer.Option(help="An API key the hub's admin made for the officer")],
    node_id: Annotated[str | None, typer.Option(help="This node's id; default: host name")] = None,
    env_file: Annotated[Path, typer.Option(help="Where the node's settings are kept")] = Path(
        ".env"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Join even though this database holds data")
    ] = False,
) -> None:
    """Check the key with the hub, remember the hub in ENV_FILE, migrate, and run the first
    sync: the officer's portfolio and their login arrive. Refused on a database that already
    holds data (a hub's, say) unless --force."""
    base = get_settings()
    chosen = node_id or f"{socket.gethostname().split('.')[0]}-{secrets.token_hex(2)}"
    settings = base.model_copy(
        update={"node_id": chosen, "sync_hub_url": hub_url, "sync_api_key": SecretStr(api_key)}
    )
    configure_logging(settings)

    async def run() -> dict[str, Any]:
        async with HubClient(settings) as hub:
            await hub.pull(since=0, limit=1)
        runtime = Runtime.create(settings)
        try:
            await upgrade(runtime.db.engine)
            async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
                holds = await service.holds_data(session=session)
        finally:
            await runtime.close()
        if holds and not force:
            raise _NotEmpty(settings.database_url)
        return await _cycle(settings)

    try:
        report = asyncio.run(run())
    except httpx.HTTPError as exc:
        typer.echo(f"the hub refused or could not be reached: {exc}", err=True)
        raise typer.Exit(1) from exc
    except _NotEmpty as exc:
        typer.echo(
            f"refused: {exc} already holds data; a node needs a database of its own "
            "(BAZAAR_DATABASE_URL), or pass --force to join with this one",
            err=True,
        )
        raise typer.Exit(2) from exc
    _write_env(
        env_file,
        {"BAZAAR_NODE_ID": chosen, "BAZAAR_SYNC_HUB_URL": hub_url, "BAZAAR_SYNC_API_KEY": api_key},
    )
    typer.echo(f"joined {hub_url} as node {chosen}; settings in {env_file}")
    typer.echo(json.dumps(report))


@sync_app.command("now")
def now() -> None:
    """Run one sync cycle and print pushed, pulled, conflicts, failures and duration."""
    settings = get_settings()
    configure_logging(settings)
    report = asyncio.run(_cycle(settings))
    typer.echo(json.dumps(report))
    if report["error"]:
        raise typer.Exit(1)


@sync_app.command("status")
def status() -> None:
    """Outbox counts, open conflicts and the last sync with the hub."""
    settings = get_settings()
    configure_logging(settings)

    async def run() -> dict[str, Any]:
        runtime = Runtime.create(settings)
        try:
            async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
                summary = await service.summary(session=session, principal=None)
                peer = await find_hub_peer(session=session)
                return {
                    "role": "node" if settings.sync_hub_url else "hub",
                    "node_id": settings.node_id,
                    "hub_url": settings.sync_hub_url,
                    "outbox": {s.value: n for s, n in summary["outbox"].items()},
                    "open_conflicts": summary["open_conflicts"],
                    "pull_cursor": peer.pull_cursor if peer else None,
                    "last_sync_at": peer.last_sync_at.isoformat()
                    if peer and peer.last_sync_at
                    else None,
                }
        finally:
            await runtime.close()

    typer.echo(json.dumps(asyncio.run(run()), indent=2))


@sync_app.command("compact")
def compact(
    retention_days: Annotated[
        float | None,
        typer.Option(min=0, help="Keep every change younger than this; default: the setting"),
    ] = None,
) -> None:
    """Thin out the change log now, as the hourly job does: past the retention
    (BAZAAR_SYNC_CHANGE_LOG_RETENTION_DAYS) only each row's latest change stays. Prints the
    horizon and the entries removed and kept."""
    settings = get_settings()
    configure_logging(settings)
    days = settings.sync_change_log_retention_days if retention_days is None else retention_days

    async def run() -> compaction.Compacted:
        runtime = Runtime.create(settings)
        try:
            return await compaction.compact_older_than(runtime, timedelta(days=days))
        finally:
            await runtime.close()

    done = asyncio.run(run())
    typer.echo(json.dumps({"horizon": done.horizon, "removed": done.removed, "kept": done.kept}))
