"""What a business domain plugs into the platform, declared once in its `domain.py`.

`bazaar.domains` lists every domain; the app, the worker and the CLI take routers, sync
entities and commands, events, jobs, commands and demo data from there. The platform (sync,
realtime, auth and the core modules) never imports a domain: it only sees these parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import typer
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.events import Event
from bazaar.scheduler import Job
from bazaar.sync.registry import Command, SyncEntity


class Seeder(Protocol):
    """Adds the domain's demo rows unless they exist; returns the lines `bazaar seed --demo`
    prints."""

    async def __call__(self, *, session: AsyncSession) -> list[str]: ...


@dataclass(frozen=True)
class Domain:
    name: str
    """The package under `bazaar` (e.g. "lending")."""
    routers: Sequence[APIRouter] = ()
    """Mounted under /api/v1, in order."""
    sync_entities: Sequence[SyncEntity] = ()
    """Syncable tables, parents before children."""
    sync_commands: Sequence[Command] = ()
    events: Sequence[type[Event]] = ()
    """Every event class the domain records: each routed to its audience or internal."""
    jobs: Sequence[Job] = ()
    cli: Sequence[tuple[str, typer.Typer]] = ()
    """`bazaar NAME ...` command groups."""
    demo: Seeder | None = None
