"""Rate limits, retries, dropped connections, rejected records and malformed answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bazaar.crm.client import (
    CRMClient,
    CRMProtocolError,
    CRMSettings,
    CRMUnavailable,
    CRMValidationError,
)
from bazaar.crm.client.auth import ApiKeyAuth
from bazaar.crm.client.http import retry_after
from tests.crm.fake_crm import FakeServer


def _client(server: FakeServer, **settings: object) -> CRMClient:
    options: dict[str, object] = {"rate_limit_per_minute": None, "backoff_base": 0.01, **settings}
    return CRMClient(
        CRMSettings(base_url=server.url, **options),  # type: ignore[arg-type]
        ApiKeyAuth(key=server.crm.api_key),
    )


async def test_a_configured_limit_is_never_exceeded(fake_crm: FakeServer) -> None:
    fake_crm.crm.behaviour.rate_limit_per_minute = 5
    fake_crm.crm.behaviour.rate_window = 2
    async with _client(fake_crm, rate_limit_per_minute=5, rate_window=3) as crm:
        for _ in range(12):
            await crm.list("clients")

    assert fake_crm.crm.counts["429"] == 0
    assert crm.budget.waited > 0


async def test_without_a_configured_limit_the_client_waits_out_429s(fake_crm: FakeServer) -> None:
    fake_crm.crm.behaviour.rate_limit_per_minute = 5
    fake_crm.crm.behaviour.rate_window = 2
    async with _client(fake_crm, max_retries=5) as crm:
        for _ in range(12):
            await crm.list("clients")

    assert fake_crm.crm.counts["429"] > 0
    assert crm.stats.calls[200] == 12


async def test_rate_limit_headers_hold_requests_until_the_reset(fake_crm: FakeServer) -> None:
    b = fake_crm.crm.behaviour
    b.rate_limit_per_minute, b.rate_window, b.send_rate_headers = 3, 2, True
    async with _client(fake_crm) as crm:
        for _ in range(7):
            await crm.list("clients")

    assert fake_crm.crm.counts["429"] == 0
    assert crm.budget.waited > 0


@pytest.mark.parametrize("as_date", [False, True])
async def test_retry_after_is_honoured_in_seconds_and_as_a_date(
    fake_crm: FakeServer, as_date: bool
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    fake_crm.crm.behaviour.failures.append((429, {"Retry-After": when if as_date else "1"}))
    started = time.monotonic()
    async with _client(fake_crm) as crm:
        await crm.list("clients")

    assert time.monotonic() - started >= 0.9
    assert crm.stats.retries == 1


def test_retry_after_reads_both_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert retry_after("7") == 7.0
    assert retry_after(later, now=now) == 30.0
    assert retry_after("soon") is None


async def test_a_burst_of_5xx_is_retried_and_a_longer_one_gives_up(fake_crm: FakeServer) -> None:
    fake_crm.crm.behaviour.failures.extend([(500, {}), (503, {}), (500, {})])
    async with _client(fake_crm, max_retries=3) as crm:
        await crm.list("clients")
        fake_crm.crm.behaviour.failures.extend([(503, {})] * 4)
        with pytest.raises(CRMUnavailable):
            await crm.list("clients")

    assert crm.stats.retries == 6


async def test_a_dropped_connection_is_retried(fake_crm: FakeServer) -> None:
    fake_crm.crm.behaviour.drops = 1
    async with _client(fake_crm) as crm:
        page = await crm.list("clients")

    assert page.total == 0
    assert crm.stats.calls[0] == 1


async def test_a_rejected_record_raises_the_servers_message_without_retrying(
    fake_crm: FakeServer,
) -> None:
    fake_crm.crm.behaviour.reject.add("Forbidden Name")
    async with _client(fake_crm) as crm:
        with pytest.raises(CRMValidationError) as raised:
            await crm.create("clients", {"name": "Forbidden Name"})
        made = await crm.create("clients", {"name": "Fine"})

    assert raised.value.status == 422
    assert "name not allowed" in raised.value.message
    assert crm.stats.retries == 0
    assert made.model_dump()["name"] == "Fine"


async def test_malformed_answers_fail_the_record_or_the_page_clearly(
    fake_crm: FakeServer,
) -> None:
    good = {"id": "c-1", "name": "Fine", "updated_at": "2026-01-01T00:00:00+00:00"}
    fake_crm.crm.behaviour.garbage.extend(
        [
            "<html>not json</html>",
            '{"items": []}',
            '{"data": [{"name": "no id", "updated_at": "2026-01-01T00:00:00Z"},'
            ' {"id": "c-2", "name": 5, "updated_at": "yesterday"}, '
            + str(good).replace("'", '"')
            + '], "total": 3}',
        ]
    )
    async with _client(fake_crm) as crm:
        with pytest.raises(CRMProtocolError, match="not JSON"):
            await crm.list("clients")
        with pytest.raises(CRMProtocolError, match="'data'"):
            await crm.list("clients")
        page = await crm.list("clients")

    assert [r.id for r in page.records] == ["c-1"]
    assert len(page.failed) == 2


async def test_pages_are_walked_to_the_end(fake_crm: FakeServer) -> None:
    for number in range(250):
        fake_crm.crm.put("tasks", title=f"Task {number}")
    async with _client(fake_crm) as crm:
        pages = [page async for page in crm.pages("tasks", per_page=100)]

    assert [len(page.records) for page in pages] == [100, 100, 50]
    assert len({r.id for page in pages for r in page.records}) == 250
