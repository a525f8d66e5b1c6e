"""The `bazaar` command as an operator uses it, in a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bazaar import __version__

BAZAAR = str(Path(sys.executable).parent / "bazaar")


def bazaar(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BAZAAR_")}
    return subprocess.run(
        [BAZAAR, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_version() -> None:
    assert bazaar("version").stdout.strip() == __version__


@pytest.mark.parametrize("command", ["serve", "migrate", "seed", "worker", "version"])
def test_every_command_has_help(command: str) -> None:
    result = bazaar(command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_migrate_creates_the_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = bazaar("migrate", BAZAAR_DATABASE_URL=f"sqlite+aiosqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert db.exists()
    again = bazaar("migrate", BAZAAR_DATABASE_URL=f"sqlite+aiosqlite:///{db}")
    assert again.returncode == 0, again.stderr


def test_production_refuses_unsafe_settings_naming_the_setting() -> None:
    result = bazaar("migrate", BAZAAR_ENVIRONMENT="production")
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: BAZAAR_SECRET_KEY")


def test_seed_demo_is_refused_in_production(tmp_path: Path) -> None:
    result = bazaar(
        "seed",
        "--demo",
        BAZAAR_ENVIRONMENT="production",
        BAZAAR_SECRET_KEY="x" * 40,
        BAZAAR_PAYMENT_WEBHOOK_SECRET="w" * 32,
        BAZAAR_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        BAZAAR_ALLOW_SQLITE_IN_PRODUCTION="true",
    )
    assert result.returncode == 2
    assert "refused" in result.stderr


def test_worker_runs_every_domains_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal

    db = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    assert bazaar("migrate", BAZAAR_DATABASE_URL=db).returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BAZAAR_")}
    with subprocess.Popen(
        [BAZAAR, "worker"],
        env={**clean, "BAZAAR_DATABASE_URL": db},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert "leader=True" in banner
    for job in ("sync", "idempotency-keys-expiry", "auth-purge-expired"):
        assert job in banner
    assert process.returncode == 0
