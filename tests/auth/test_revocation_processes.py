"""Two Bazaar processes on one database: a logout on one is refused by the other within the
credential check's cache lifetime (1 s), embedded and with PostgreSQL + Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.backends import REDIS_URL
from tests.sync.cluster import API, Bazaar, login, make_user, start_hub


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_logout_reaches_every_worker_within_a_second(kind: str, tmp_path: Path) -> None:
    first, database = await start_hub(kind, tmp_path)
    redis = {"BAZAAR_REDIS_URL": REDIS_URL} if kind == "postgres" else {}
    first.env.update(redis)
    (tmp_path / "second").mkdir()
    second = Bazaar("second", tmp_path / "second", first.database_url, env=redis)
    try:
        await make_user(first, "ops@hq.test", "admin")
        await first.start()
        await second.start()
        headers = await login(first, "ops@hq.test")
        async with first.client() as one, second.client() as two:
            assert (await two.get(f"{API}/auth/me", headers=headers)).status_code == 200
            logout = await one.post(f"{API}/auth/logout", headers=headers)
            assert logout.status_code == 204, logout.text
            ended = time.monotonic()
            while (await two.get(f"{API}/auth/me", headers=headers)).status_code == 200:
                assert time.monotonic() - ended < 3, "the other worker never refused the token"
            refused_after = time.monotonic() - ended
            on_first = (await one.get(f"{API}/auth/me", headers=headers)).status_code
    finally:
        await first.stop(kill=True)
        await second.stop(kill=True)
        await database.__aexit__(None, None, None)

    assert on_first == 401  # at once where the logout committed
    assert refused_after <= 1.5  # the cache's second, plus a request's time on a busy machine
