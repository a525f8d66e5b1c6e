"""Realtime figures in the app's Prometheus registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RealtimeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "bazaar_ws_connections", "Open WebSocket connections on this worker", registry=registry
        )
        self.messages_sent = Counter(
            "bazaar_ws_messages_sent", "Messages written to WebSockets", registry=registry
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
