"""The hourly job drops denylist entries, refresh tokens and reset tokens that can no longer be
presented, and the outbox messages that carried the reset tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from tests.auth_fixtures import LoginAs

from bazaar.auth.jobs import purge_expired_job
from bazaar.auth.models import (
    OutboxMessage,
    PasswordResetToken,
    RefreshToken,
    RevokedAccessToken,
)
from bazaar.auth.roles import Role
from bazaar.db import unit_of_work
from bazaar.stamps import utcnow


async def test_only_what_expired_beyond_the_leeway_is_purged(
    app: FastAPI, login_as: LoginAs
) -> None:
    expired, live = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    now = utcnow()
    async with unit_of_work(app.state.runtime.db, app.state.runtime.events) as session:
        session.add(RevokedAccessToken(jti="old", expires_at=now - timedelta(hours=1)))
        session.add(RevokedAccessToken(jti="within-leeway", expires_at=now - timedelta(seconds=5)))
        token = await session.scalar(select(RefreshToken).where(RefreshToken.user_id == expired.id))
        assert token is not None
        token.family_expires_at = now - timedelta(hours=1)

    await purge_expired_job(app.state.runtime)

    async with unit_of_work(
        app.state.runtime.db, app.state.runtime.events, read_only=True
    ) as session:
        jtis = set((await session.scalars(select(RevokedAccessToken.jti))).all())
        owners = (await session.scalars(select(RefreshToken.user_id))).all()
        assert await session.scalar(select(func.count()).select_from(RefreshToken)) == 1
    assert jtis == {"within-leeway"}
    assert owners == [live.id]


async def test_expired_reset_tokens_and_their_outbox_messages_are_purged(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    expired, live = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    for user in (expired, live):
        sent = await client.post("/api/v1/auth/password-reset", json={"email": user.email})
        assert sent.status_code == 202
    past = utcnow() - timedelta(hours=1)
    async with unit_of_work(app.state.runtime.db, app.state.runtime.events) as session:
        for model in (PasswordResetToken, OutboxMessage):
            await session.execute(
                update(model).where(model.user_id == expired.id).values(expires_at=past)
            )

    await purge_expired_job(app.state.runtime)

    async with unit_of_work(
        app.state.runtime.db, app.state.runtime.events, read_only=True
    ) as session:
        token_owners = (await session.scalars(select(PasswordResetToken.user_id))).all()
        message_owners = (await session.scalars(select(OutboxMessage.user_id))).all()
    assert token_owners == [live.id]
    assert message_owners == [live.id]
