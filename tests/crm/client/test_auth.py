"""Each auth type end to end against the fake CRM: tokens expiring mid-run, a refresh race
with exactly one renewal, refused credentials."""

from __future__ import annotations

import asyncio

import pytest

from bazaar.crm.client import CRMAuthError, CRMClient, CRMProtocolError, CRMSettings
from bazaar.crm.client.auth import ApiKeyAuth, JwtAuth, OAuthAuth, TokenAuth
from tests.crm.fake_crm import FakeServer


def _settings(server: FakeServer) -> CRMSettings:
    return CRMSettings(base_url=server.url, rate_limit_per_minute=None, backoff_base=0.01)


def _jwt(server: FakeServer, password: str | None = None) -> JwtAuth:
    api = _settings(server).api_url
    return JwtAuth(
        login_url=f"{api}auth/login",
        refresh_url=f"{api}auth/refresh",
        username=server.crm.username,
        password=password or server.crm.password,
    )


def _oauth(server: FakeServer, secret: str | None = None) -> OAuthAuth:
    return OAuthAuth(
        token_url=f"{server.url}/oauth/token",
        client_id=server.crm.client_id,
        client_secret=secret or server.crm.client_secret,
        timeout=5,
    )


async def test_an_api_key_is_sent_in_its_header(fake_crm: FakeServer) -> None:
    fake_crm.crm.put("clients", name="Asha")
    async with CRMClient(_settings(fake_crm), ApiKeyAuth(key=fake_crm.crm.api_key)) as crm:
        page = await crm.list("clients")
    async with CRMClient(_settings(fake_crm), ApiKeyAuth(key="wrong")) as crm:
        with pytest.raises(CRMAuthError):
            await crm.list("clients")

    assert [r.model_dump()["name"] for r in page.records] == ["Asha"]


@pytest.mark.parametrize("kind", ["jwt", "oauth"])
async def test_a_token_expiring_mid_run_is_renewed_once_for_many_concurrent_requests(
    fake_crm: FakeServer, kind: str
) -> None:
    fake_crm.crm.put("projects", name="Expansion")
    auth: TokenAuth = _jwt(fake_crm) if kind == "jwt" else _oauth(fake_crm)
    async with CRMClient(_settings(fake_crm), auth) as crm:
        await crm.list("projects")
        fake_crm.crm.expire_tokens()
        pages = await asyncio.gather(*(crm.list("projects") for _ in range(20)))

    assert all(page.total == 1 for page in pages)
    assert auth.renewals == 2  # the first token and exactly one renewal
    if kind == "jwt":
        assert fake_crm.crm.counts["logins"] == 1
        assert fake_crm.crm.counts["refreshes"] == 1
    else:
        assert fake_crm.crm.counts["oauth_tokens"] == 2


async def test_a_token_close_to_expiry_is_renewed_before_it_is_refused(
    fake_crm: FakeServer,
) -> None:
    fake_crm.crm.behaviour.token_ttl = 60  # inside the 5-minute margin from the start
    auth = _jwt(fake_crm)
    async with CRMClient(_settings(fake_crm), auth) as crm:
        await crm.list("tasks")
        await crm.list("tasks")

    assert fake_crm.crm.statuses[401] == 0
    assert fake_crm.crm.counts["refreshes"] == 1


async def test_a_refused_refresh_logs_in_again(fake_crm: FakeServer) -> None:
    auth = _jwt(fake_crm)
    async with CRMClient(_settings(fake_crm), auth) as crm:
        await crm.list("tasks")
        fake_crm.crm.refresh_tokens.clear()
        fake_crm.crm.expire_tokens()
        await crm.list("tasks")

    assert fake_crm.crm.counts["logins"] == 2


@pytest.mark.parametrize("kind", ["jwt", "oauth"])
async def test_refused_credentials_raise_and_report_once(fake_crm: FakeServer, kind: str) -> None:
    reported: list[CRMAuthError] = []

    async def report(exc: CRMAuthError) -> None:
        reported.append(exc)

    auth = _jwt(fake_crm, "wrong") if kind == "jwt" else _oauth(fake_crm, "wrong")
    async with CRMClient(_settings(fake_crm), auth, on_auth_failed=report) as crm:
        with pytest.raises(CRMAuthError) as raised:
            await crm.list("users")

    assert len(reported) == 1
    assert "wrong" not in str(raised.value)  # no secret in the message


async def test_a_login_answering_something_else_than_a_token_is_a_protocol_error(
    fake_crm: FakeServer,
) -> None:
    fake_crm.crm.behaviour.garbage_login = True
    async with CRMClient(_settings(fake_crm), _jwt(fake_crm)) as crm:
        with pytest.raises(CRMProtocolError, match="not JSON"):
            await crm.list("users")
