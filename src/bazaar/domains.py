"""Every business domain, on one screen: the only module above the domains.

Adding a domain is one line here (and its own `domain.py`, see AGENTS.md). Importing this
module plugs every domain's syncable entities and commands into the sync registry, and its
events' notification types into realtime, once per process, before any request, socket or
sync cycle can need them.
"""

from __future__ import annotations

from fastapi import APIRouter

from bazaar.commerce.domain import DOMAIN as COMMERCE
from bazaar.crm.domain import DOMAIN as CRM
from bazaar.domain import Domain, Seeder
from bazaar.lending.domain import DOMAIN as LENDING
from bazaar.realtime import routing
from bazaar.scheduler import Job
from bazaar.sync import conflicts, registry

DOMAINS: tuple[Domain, ...] = (LENDING, CRM, COMMERCE)


def names() -> set[str]:
    return {domain.name for domain in DOMAINS}


def routers() -> list[APIRouter]:
    return [router for domain in DOMAINS for router in domain.routers]


def jobs() -> list[Job]:
    return [job for domain in DOMAINS for job in domain.jobs]


def seeders() -> list[Seeder]:
    return [domain.demo for domain in DOMAINS if domain.demo is not None]


def _plug_into_sync() -> None:
    registry.register(conflicts.ENTITY)  # sync's own inbox, replicated like domain rows
    for domain in DOMAINS:
        for entity in domain.sync_entities:
            registry.register(entity)
        for command in domain.sync_commands:
            registry.register_command(command)


def _plug_into_realtime() -> None:
    for domain in DOMAINS:
        for event in domain.events:
            if event.notification is not None:
                routing.register_business_type(event.notification)


_plug_into_sync()
_plug_into_realtime()
