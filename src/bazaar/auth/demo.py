"""Demo accounts for `bazaar seed --demo` (refused in production by bazaar.demo)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import service
from bazaar.auth.roles import Role

DEMO_PASSWORD = "demo-password"  # noqa: S105 - published demo credentials, never in production
DEMO_USERS = (
    ("admin@demo.bazaar", "Ada Admin", Role.ADMIN),
    ("officer@demo.bazaar", "Obi Officer", Role.OFFICER),
    ("borrower@demo.bazaar", "Bola Borrower", Role.CUSTOMER),
)


async def seed_demo(*, session: AsyncSession) -> list[str]:
    lines = []
    for email, full_name, role in DEMO_USERS:
        if await service.find_user_by_email(session=session, email=email) is None:
            await service.create_user(
                session=session, email=email, password=DEMO_PASSWORD, full_name=full_name, role=role
            )
        lines.append(f"{role.value:<9} {email:<22} password: {DEMO_PASSWORD}")
    return lines
