"""Joining a hub with real processes: a node needs a database and a key of its own, and
`bazaar sync status` only reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from tests.sync.cluster import Bazaar, call, login, make_user, start_hub


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_node_joins_only_with_a_database_and_a_key_of_its_own(
    kind: str, tmp_path: Path
) -> None:
    hub, database = await start_hub(kind, tmp_path)
    try:
        await make_user(hub, "admin@hq.test", "admin")
        officer_id = await make_user(hub, "officer@hq.test", "officer")
        await hub.start()
        admin = await login(hub, "admin@hq.test")
        body = {"name": "laptop", "scope": "sync", "owner_id": officer_id}
        key = (await call(hub, "POST", "api-keys", admin, body))["key"]

        on_hub_data = Bazaar("same-db", tmp_path / "hub", hub.database_url)
        refused = await on_hub_data.cli(
            "node", "join", hub.url, "--api-key", key, "--node-id", "laptop-1", check=False
        )
        first = _node(tmp_path, "laptop-1")
        joined = await first.cli("node", "join", hub.url, "--api-key", key, "--node-id", "laptop-1")
        second = _node(tmp_path, "laptop-2")
        taken = await second.cli(
            "node", "join", hub.url, "--api-key", key, "--node-id", "laptop-2", check=False
        )
        status = await hub.cli("sync", "status")
        peers = await _peer_roles(hub.database_url)
    finally:
        await hub.stop(kill=True)
        await database.__aexit__(None, None, None)

    assert "already holds data" in refused
    assert "joined" in joined
    assert "sync_key_bound" in taken or "403" in taken
    assert '"role": "hub"' in status
    assert peers == ["node"]  # sync status on the hub wrote no peer row


def _node(tmp: Path, name: str) -> Bazaar:
    workdir = tmp / name
    workdir.mkdir()
    return Bazaar(name, workdir, f"sqlite+aiosqlite:///{workdir / 'node.db'}")


async def _peer_roles(database_url: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT role FROM sync_peers ORDER BY role"))
            return [role for (role,) in rows]
    finally:
        await engine.dispose()
