"""Rate limits: failed logins per account and per address, signup and refresh per address."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from types import SimpleNamespace

import httpx
import limits.aio.storage.memory
import limits.aio.storage.redis.redispy
import pytest
from fastapi import FastAPI
from limits import parse_many
from redis.asyncio import Redis
from tests.auth_fixtures import LoginAs
from tests.backends import Backend

from bazaar.auth.context import auth_context
from bazaar.auth.passwords import PasswordHasher
from bazaar.auth.ratelimits import SHARE_EVERY, RateLimits
from bazaar.auth.roles import Role
from bazaar.errors import RateLimitedError

LOGIN = "/api/v1/auth/login"


class CountingHasher(PasswordHasher):
    def __init__(self, inner: PasswordHasher) -> None:
        self.__dict__.update(inner.__dict__)
        self.verified = 0

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verified += 1
        return await super().verify(stored_hash, password)


def move_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Let the limiter's windows pass: both storages read the wall clock through `time`."""
    later = SimpleNamespace(time=lambda: time.time() + seconds)
    monkeypatch.setattr(limits.aio.storage.memory, "time", later)
    monkeypatch.setattr(limits.aio.storage.redis.redispy, "time", later)


def tighten(app: FastAPI, monkeypatch: pytest.MonkeyPatch, **rules: str) -> None:
    """Smaller limits than the defaults, so a test reaches them in a few requests."""
    context = auth_context(app.state.runtime)
    tight = replace(context.rules, **{name: parse_many(text) for name, text in rules.items()})
    monkeypatch.setattr(app.state.runtime, "auth", replace(context, rules=tight))


async def test_150_wrong_passwords_are_not_all_evaluated_and_the_account_recovers(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await login_as(Role.CUSTOMER)
    counting = CountingHasher(auth_context(app.state.runtime).hasher)
    monkeypatch.setattr(
        app.state.runtime, "auth", replace(auth_context(app.state.runtime), hasher=counting)
    )
    wrong = {"email": user.email, "password": "not the password"}

    statuses = [(await client.post(LOGIN, json=wrong)).status_code for _ in range(150)]
    limited = await client.post(LOGIN, json={"email": user.email, "password": user.password})

    assert counting.verified <= 100
    assert statuses.count(401) == counting.verified
    assert statuses[-1] == 429
    assert set(statuses) == {401, 429}
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 3600

    move_clock(monkeypatch, 3601)
    again = await client.post(LOGIN, json={"email": user.email, "password": user.password})
    assert again.status_code == 200


async def test_60_concurrent_wrong_passwords_check_at_most_the_limit(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await login_as(Role.CUSTOMER)
    counting = CountingHasher(auth_context(app.state.runtime).hasher)
    runtime = app.state.runtime
    monkeypatch.setattr(runtime, "auth", replace(auth_context(runtime), hasher=counting))
    wrong = {"email": user.email.upper(), "password": "not the password"}

    answers = await asyncio.gather(*(client.post(LOGIN, json=wrong) for _ in range(60)))

    statuses = [a.status_code for a in answers]
    # The default per-account limit: 20 a minute.
    assert statuses.count(401) == counting.verified <= 20
    assert statuses.count(429) == 60 - statuses.count(401) >= 40
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)


async def test_an_attack_on_one_account_leaves_the_others_alone(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    victim, bystander = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    for _ in range(25):
        await client.post(LOGIN, json={"email": victim.email, "password": "guess guess"})

    response = await client.post(
        LOGIN, json={"email": bystander.email, "password": bystander.password}
    )

    assert response.status_code == 200


async def test_failed_logins_from_one_address_are_limited_across_accounts(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tighten(app, monkeypatch, login_address="5/minute")

    statuses = [
        (
            await client.post(LOGIN, json={"email": f"u{n}@example.com", "password": "guesses"})
        ).status_code
        for n in range(6)
    ]

    assert statuses == [401] * 5 + [429]


async def test_signups_are_limited_per_address(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tighten(app, monkeypatch, signup_address="3/hour")

    def signup(n: int) -> dict[str, str]:
        return {
            "email": f"shop{n}@example.com",
            "password": "a shop on every corner",
            "full_name": "S",
        }

    statuses = [
        (await client.post("/api/v1/auth/signup", json=signup(n))).status_code for n in range(4)
    ]

    assert statuses == [201] * 3 + [429]


async def test_taken_emails_count_against_the_signup_limit_that_bounds_enumeration(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    tighten(app, monkeypatch, signup_address="3/hour")
    existing = await login_as(Role.CUSTOMER)
    body = {"password": "a shop on every corner", "full_name": "S"}

    statuses = [
        (await client.post("/api/v1/auth/signup", json={**body, "email": email})).status_code
        for email in (existing.email, existing.email.upper(), "new@example.com", "new2@example.com")
    ]

    assert statuses == [409, 409, 201, 429]


async def test_authenticated_calls_are_limited_per_user(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    tighten(app, monkeypatch, per_user="3/minute")
    user, other = await login_as(Role.OFFICER), await login_as(Role.OFFICER)

    statuses = [
        (await client.get("/api/v1/auth/me", headers=user.headers)).status_code for _ in range(4)
    ]

    assert statuses == [200, 200, 200, 429]
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 200


async def test_workers_share_the_per_user_limit_without_a_round_trip_per_request(
    backend: Backend,
) -> None:
    if backend.redis_url is None:
        pytest.skip("embedded mode counts in one process")
    rule = parse_many("10/minute")
    key = ("user", str(uuid.uuid4()))
    # The windows are the clock's minutes: a test that straddles one would start over.
    if (into_minute := time.time() % 60) > 50:
        await asyncio.sleep(60 - into_minute)
    async with (
        Redis.from_url(backend.redis_url) as first_redis,
        Redis.from_url(backend.redis_url) as second_redis,
    ):
        first, second = RateLimits(first_redis), RateLimits(second_redis)
        for _ in range(8):
            await first.hit_coarse(rule, *key)
        await asyncio.sleep(SHARE_EVERY * 4)  # the first worker shares its 8
        await second.hit_coarse(rule, *key)  # counted locally: no round trip yet
        await asyncio.sleep(SHARE_EVERY * 4)  # the second learns the total, 9
        await second.hit_coarse(rule, *key)
        with pytest.raises(RateLimitedError) as refused:
            await second.hit_coarse(rule, *key)
        # The first worker has not heard of the second's hits yet: the documented overshoot.
        await first.hit_coarse(rule, *key)
        await asyncio.sleep(SHARE_EVERY * 4)
        with pytest.raises(RateLimitedError):
            await first.hit_coarse(rule, *key)
        await first.close()
        await second.close()

    assert 1 <= refused.value.retry_after <= 60
