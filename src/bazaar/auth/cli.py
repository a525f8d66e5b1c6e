"""`bazaar user ...`: account administration from the shell, for the first admin of a real
deployment (sign-up only makes customers) and for recovering access."""

from __future__ import annotations

import asyncio
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


@user_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    role: Annotated[Role, typer.Option(help="admin, officer, customer or node")],
    full_name: Annotated[str, typer.Option(help="Name shown to other users")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="BAZAAR_NEW_USER_PASSWORD",
            help="Asked for when not given (or set BAZAAR_NEW_USER_PASSWORD)",
        ),
    ],
    phone: Annotated[str | None, typer.Option(help="Contact phone")] = None,
) -> None:
    """Create a user of any role, e.g. the first admin: `bazaar user create --role admin ...`."""
    settings = get_settings()
    configure_logging(settings)

    async def run() -> str:
        runtime = Runtime.create(settings)
        try:
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
        finally:
            await runtime.close()

    try:
        user_id = asyncio.run(run())
    except AppError as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created {role.value} {service.normalize_email(email)} ({user_id})")
