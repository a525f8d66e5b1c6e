"""`bazaar user ...`: account administration from the shell, for the first admin of a real
deployment (sign-up only makes customers) and for recovering access."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from bazaar.auth import service
from bazaar.auth.context import auth_context
from bazaar.auth.roles import Role
from bazaar.config import get_settings
from bazaar.db import unit_of_work
from bazaar.errors import AppError
from bazaar.observability.logging import configure_logging
from bazaar.runtime import Runtime

user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


NewPassword = Annotated[
    str,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="BAZAAR_NEW_USER_PASSWORD",
        help="Asked for when not given (or set BAZAAR_NEW_USER_PASSWORD)",
    ),
]


def _run(work: Callable[[Runtime], Awaitable[str]]) -> str:
    """Run `work` against a runtime of its own; a refusal exits 1 with its message."""
    settings = get_settings()
    configure_logging(settings)

    async def run() -> str:
        runtime = Runtime.create(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(run())
    except AppError as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@user_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    role: Annotated[Role, typer.Option(help="admin, officer, customer or node")],
    full_name: Annotated[str, typer.Option(help="Name shown to other users")],
    password: NewPassword,
    phone: Annotated[str | None, typer.Option(help="Contact phone")] = None,
) -> None:
    """Create a user of any role, e.g. the first admin: `bazaar user create --role admin ...`."""

    async def work(runtime: Runtime) -> str:
        async with unit_of_work(runtime.db, runtime.events) as session:
            user = await service.create_user(
                session=session,
                email=email,
                password=password,
                full_name=full_name,
                phone=phone,
                role=role,
                hasher=auth_context(runtime).hasher,
            )
        return str(user.id)

    user_id = _run(work)
    typer.echo(f"created {role.value} {service.normalize_email(email)} ({user_id})")


@user_app.command("set-password")
def set_password(
    email: Annotated[str, typer.Option(help="Sign-in email of the account")],
    password: NewPassword,
) -> None:
    """Set a forgotten password, e.g. the only admin's; every session of the user ends."""

    async def work(runtime: Runtime) -> str:
        password_hash = await service.hash_new_password(
            password, hasher=auth_context(runtime).hasher
        )
        async with unit_of_work(runtime.db, runtime.events) as session:
            user = await service.set_password_by_email(
                session=session, email=email, password_hash=password_hash, reason="password_reset"
            )
        return str(user.id)

    user_id = _run(work)
    typer.echo(f"password set for {service.normalize_email(email)} ({user_id}); sessions ended")
