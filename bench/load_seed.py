"""The portfolio `bench.run load` drives: officers, each with disbursed loans of their own.

Run in a subprocess with the PYTHONPATH of the code under test (`python -m bench.load_seed URL
OFFICERS LOANS OUT`), so an earlier commit's server is seeded by its own services. It writes a
JSON list of `{"email", "loans"}`, one per officer; every officer's password is
`bench.portfolio.PASSWORD`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.auth.service import create_user
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bench.portfolio import PASSWORD, disbursed_loans, staff


async def seed(database_url: str, officers: int, loans: int) -> list[dict[str, object]]:
    settings = Settings(_env_file=None, environment="test", database_url=database_url)
    runtime = Runtime.create(settings)
    portfolio: list[dict[str, object]] = []
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            admin, _ = await staff(session=session)
        for n in range(officers):
            async with unit_of_work(runtime.db, runtime.events) as session:
                email = f"officer{n}@load.bazaar"
                user = await create_user(
                    session=session,
                    email=email,
                    password=PASSWORD,
                    full_name=f"Load Officer {n}",
                    role=Role.OFFICER,
                )
                officer = Principal(user_id=user.id, role=Role.OFFICER)
                ids = await disbursed_loans(
                    session=session, officer=officer, admin=admin, count=loans, tag=n
                )
            portfolio.append({"email": email, "loans": ids})
    finally:
        await runtime.close()
    return portfolio


def main() -> None:
    database_url, officers, loans, out = sys.argv[1:5]
    found = asyncio.run(seed(database_url, int(officers), int(loans)))
    Path(out).write_bytes(orjson.dumps(found))


if __name__ == "__main__":
    main()
