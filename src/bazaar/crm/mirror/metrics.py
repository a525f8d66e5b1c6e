"""Prometheus metrics of the sync manager, on the registry of the app (or the CLI) running
the sync: records by entity and direction, conflicts, CRM calls by status, retries,
rate-limit waits and run durations."""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Histogram

from bazaar.crm.client import CRMClient
from bazaar.crm.mirror.models import RunStatus

if TYPE_CHECKING:
    from bazaar.crm.mirror.engine import Tally

_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, SyncMetrics] = WeakKeyDictionary()


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "bazaar_crm_sync_records_total",
            "Records synced with the external CRM, by entity and direction",
            ["entity", "direction"],
            registry=registry,
        )
        self.conflicts = Counter(
            "bazaar_crm_sync_conflicts_total", "Records changed on both sides", registry=registry
        )
        self.calls = Counter(
            "bazaar_crm_api_calls_total",
            "Requests to the external CRM by answer status (0: network error)",
            ["status"],
            registry=registry,
        )
        self.retries = Counter(
            "bazaar_crm_api_retries_total", "Requests to the CRM retried", registry=registry
        )
        self.rate_wait = Counter(
            "bazaar_crm_rate_limit_wait_seconds_total",
            "Seconds spent waiting for the connection's request budget",
            registry=registry,
        )
        self.duration = Histogram(
            "bazaar_crm_sync_run_duration_seconds",
            "Sync run durations by final status",
            ["status"],
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
            registry=registry,
        )

    @classmethod
    def on(cls, registry: CollectorRegistry) -> SyncMetrics:
        """One set per registry, registered the first time a run reports to it."""
        if registry not in _BY_REGISTRY:
            _BY_REGISTRY[registry] = cls(registry)
        return _BY_REGISTRY[registry]

    def observe_client(self, client: CRMClient) -> None:
        for status, count in client.stats.calls.items():
            self.calls.labels(str(status)).inc(count)
        self.retries.inc(client.stats.retries)
        self.rate_wait.inc(client.budget.waited)

    def observe_run(self, tally: Tally | None, status: RunStatus, seconds: float) -> None:
        if tally is not None:
            for (entity, direction), count in tally.by_entity.items():
                self.records.labels(entity, direction).inc(count)
            self.conflicts.inc(tally.conflicts)
        self.duration.labels(status.value).observe(seconds)
