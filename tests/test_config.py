from __future__ import annotations

from typing import Any

import pytest

from bazaar.config import DEV_WEBHOOK_SECRET, ConfigurationError, Settings

STRONG = "k" * 40
PG = "postgresql+asyncpg://bazaar@db/bazaar"


def production(**values: Any) -> Settings:
    safe = {"payment_webhook_secret": "w" * 32}
    return Settings(_env_file=None, environment="production", **{**safe, **values})


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_SECRET_KEY"):
        production(database_url=PG)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_SECRET_KEY"):
        production(database_url=PG, secret_key="short")


def test_production_refuses_demo_data() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_DEMO_DATA"):
        production(database_url=PG, secret_key=STRONG, demo_data=True)


def test_production_refuses_sqlite_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_DATABASE_URL"):
        production(secret_key=STRONG)
    assert production(secret_key=STRONG, allow_sqlite_in_production=True).is_sqlite


def test_production_refuses_the_dev_webhook_secret() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_PAYMENT_WEBHOOK_SECRET"):
        production(database_url=PG, secret_key=STRONG, payment_webhook_secret=DEV_WEBHOOK_SECRET)


def test_production_with_safe_settings_starts() -> None:
    assert production(database_url=PG, secret_key=STRONG).environment == "production"


def test_lists_read_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAZAAR_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings(_env_file=None).cors_origins == [
        "https://a.example",
        "https://b.example",
    ]


def test_loyalty_tiers_must_ascend() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_LOYALTY_GOLD_POINTS"):
        Settings(_env_file=None, loyalty_silver_points=5_000, loyalty_gold_points=5_000)
