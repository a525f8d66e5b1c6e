"""Realtime figures in the app's Prometheus registry."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _SentCollector(Collector):
    """Reads a plain integer at scrape time: a Counter's lock on every frame written to every
    socket costs more than the write itself does to the event loop."""

    def __init__(self, metrics: RealtimeMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("bazaar_ws_messages_sent", "Messages written to WebSockets")
        family.add_metric([], self._metrics.sent)
        yield family


class RealtimeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = 0
        registry.register(_SentCollector(self))
        self.connections = Gauge(
            "bazaar_ws_connections", "Open WebSocket connections on this worker", registry=registry
        )
        self.slow_clients_dropped = Counter(
            "bazaar_ws_slow_clients_dropped",
            "Sockets closed because their send queue filled",
            registry=registry,
        )
        self.recoveries = Counter(
            "bazaar_ws_recoveries",
            "Resume requests per channel by result (hit: every missed message sent)",
            ["result"],
            registry=registry,
        )
        self.refused = Counter(
            "bazaar_ws_refused", "Handshakes refused, by reason", ["reason"], registry=registry
        )
        self.closed = Counter(
            "bazaar_ws_closed", "Sockets closed by the server, by code", ["code"], registry=registry
        )
        self.publications = Counter(
            "bazaar_ws_publications",
            "Notifications published, by type",
            ["type"],
            registry=registry,
        )

    def count_sent(self, frames: int) -> None:
        self.sent += frames
