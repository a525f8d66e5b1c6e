"""Offline-first sync between Bazaar nodes and a hub (DESIGN.md §6, docs/sync-protocol.md)."""
