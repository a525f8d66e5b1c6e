"""`bazaar user create`, `bazaar user set-password` and the demo accounts, as an operator runs
them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.auth_fixtures import LoginAs
from tests.backends import Backend

from bazaar.auth.roles import Role
from bazaar.config import Settings
from bazaar.main import create_app

BAZAAR = str(Path(sys.executable).parent / "bazaar")


def bazaar(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BAZAAR_")}
    return subprocess.run(
        [BAZAAR, *args],
        env={**clean, "BAZAAR_ENVIRONMENT": "test", **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def redis_env(backend: Backend) -> dict[str, str]:
    return {} if backend.redis_url is None else {"BAZAAR_REDIS_URL": backend.redis_url}


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert bazaar("migrate", BAZAAR_DATABASE_URL=url).returncode == 0
    return url


async def sign_in(database: str, email: str, password: str) -> httpx.Response:
    app = create_app(Settings(_env_file=None, environment="test", database_url=database))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            login = await client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}
            )
            if login.status_code != 200:
                return login
            token = login.json()["access_token"]
            return await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_the_first_admin_is_created_from_the_shell(database: str) -> None:
    created = bazaar(
        "user", "create", "--email", "Root@Example.com", "--role", "admin",
        "--full-name", "Site Admin",
        stdin="a long admin passphrase\na long admin passphrase\n",
        BAZAAR_DATABASE_URL=database,
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    assert "created admin root@example.com" in created.stdout
    me = await sign_in(database, "root@example.com", "a long admin passphrase")
    assert me.json()["role"] == "admin"


@pytest.mark.parametrize(
    ("password", "reason"),
    [("password1", "too common"), ("short", "at least 8")],
)
def test_weak_passwords_are_refused(database: str, password: str, reason: str) -> None:
    result = bazaar(
        "user", "create", "--email", "a@example.com", "--role", "admin", "--full-name", "A",
        BAZAAR_DATABASE_URL=database, BAZAAR_NEW_USER_PASSWORD=password,
    )  # fmt: skip

    assert result.returncode == 1
    assert reason in result.stderr


def test_an_existing_email_is_refused(database: str) -> None:
    args = ("user", "create", "--email", "a@example.com", "--role", "officer", "--full-name", "A")
    env = {"BAZAAR_DATABASE_URL": database, "BAZAAR_NEW_USER_PASSWORD": "field work all day"}

    assert bazaar(*args, **env).returncode == 0
    again = bazaar(*args, **env)

    assert again.returncode == 1
    assert "already exists" in again.stderr


async def test_demo_accounts_sign_in_with_the_printed_password(database: str) -> None:
    seeded = bazaar("seed", "--demo", BAZAAR_DATABASE_URL=database)
    again = bazaar("seed", "--demo", BAZAAR_DATABASE_URL=database)

    assert seeded.returncode == 0, seeded.stderr
    assert again.returncode == 0, again.stderr
    for email, role in [
        ("admin@demo.bazaar", "admin"),
        ("officer@demo.bazaar", "officer"),
        ("borrower@demo.bazaar", "customer"),
    ]:
        assert email in seeded.stdout
        me = await sign_in(database, email, "demo-password")
        assert me.json()["role"] == role


async def test_a_forgotten_password_is_set_from_the_shell(
    backend: Backend, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    env = {"BAZAAR_DATABASE_URL": backend.database_url, **redis_env(backend)}

    result = bazaar(
        "user", "set-password", "--email", officer.email.upper(),
        stdin="fresh field season\nfresh field season\n", **env,
    )  # fmt: skip
    nobody = bazaar(
        "user", "set-password", "--email", "nobody@example.com",
        BAZAAR_NEW_USER_PASSWORD="fresh field season", **env,
    )  # fmt: skip
    weak = bazaar(
        "user", "set-password", "--email", officer.email,
        BAZAAR_NEW_USER_PASSWORD="password1", **env,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"password set for {officer.email}" in result.stdout
    assert (nobody.returncode, weak.returncode) == (1, 1)
    assert "User not found" in nobody.stderr
    assert "too common" in weak.stderr
    me = await client.get("/api/v1/auth/me", headers=officer.headers)
    assert me.status_code == 401, "the session from before still works"
    for password, status in ((officer.password, 401), ("fresh field season", 200)):
        login = await client.post(
            "/api/v1/auth/login", json={"email": officer.email, "password": password}
        )
        assert login.status_code == status
