"""Kill -9 of a real `bazaar crm sync` process in the middle of a run, then a new run: no
record lost or duplicated on either side, and the pull resumes from its checkpoint."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.crm.fake_crm import FakeCRM, FakeServer
from tests.sync.cluster import BIN, Bazaar, call, login, make_user, start_hub

REMOTE, LOCAL = 200, 30


async def _sync_process(hub: Bazaar, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(BIN),
        "crm",
        "sync",
        "--connection",
        name,
        cwd=hub.workdir,
        env=hub._env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _sync_when_free(hub: Bazaar, name: str) -> None:
    """Run again once the killed run's lease has lapsed (at most LEASE_TTL)."""
    for _ in range(40):
        out = await hub.cli("crm", "sync", "--connection", name, check=False)
        if "already going" not in out:
            assert "succeeded" in out, out
            return
        await asyncio.sleep(1)
    raise AssertionError("the killed run's lease never lapsed")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize("kill_after", [8, 30])
async def test_kill_9_mid_run_loses_and_doubles_nothing(
    kind: str, kill_after: int, tmp_path: Path
) -> None:
    hub, database = await start_hub(kind, tmp_path)
    try:
        with FakeServer(FakeCRM()) as server:
            fake = server.crm
            await make_user(hub, "admin@hq.test", "admin")
            await hub.start()
            admin = await login(hub, "admin@hq.test")
            name = "Company CRM"
            await call(
                hub,
                "POST",
                "crm/connections",
                admin,
                {
                    "name": name,
                    "base_url": server.url,
                    "auth_type": "api_key",
                    "api_key": fake.api_key,
                    "rate_limit_per_minute": 100_000,
                    "entities": ["clients"],
                    "batch_size": 10,
                    "lookback_seconds": 0,
                },
            )
            for n in range(REMOTE):
                fake.put("clients", name=f"remote {n}")
            for n in range(LOCAL):
                await call(hub, "POST", "clients", admin, {"name": f"local {n}"})
            fake.behaviour.delay = 0.03
            start = fake.counts["requests"]
            process = await _sync_process(hub, name)
            for _ in range(4000):
                if fake.counts["requests"] - start >= kill_after or process.returncode is not None:
                    break
                await asyncio.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            fake.behaviour.delay = 0.0

            await _sync_when_free(hub, name)

            local = await call(hub, "GET", "clients?limit=200", admin)
            more = await call(hub, "GET", "clients?limit=200&offset=200", admin)
            names = [c["name"] for c in local["items"] + more["items"]]
            remote = [r for r in fake.records["clients"].values() if not r.get("deleted_at")]
            runs = await call(hub, "GET", "crm/runs", admin)
            status = await call(hub, "GET", "crm/sync/status", admin)
    finally:
        await hub.stop(kill=True)
        await database.__aexit__(None, None, None)

    assert sorted(names) == sorted({*names})
    assert len(names) == REMOTE + LOCAL
    assert sorted(r["name"] for r in remote) == sorted(names)
    [killed, resumed] = sorted(runs["items"], key=lambda r: r["started_at"])
    assert (killed["status"], resumed["status"]) == ("interrupted", "succeeded")
    if kill_after < REMOTE // 10:
        # Resumed after the pages the killed run applied, not from the start.
        assert resumed["pulled"] < REMOTE
    assert [c["entity"] for c in status["items"][0]["checkpoints"]] == ["clients"]
