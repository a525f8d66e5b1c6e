"""Typed settings, read from `BAZAAR_*` environment variables and an optional `.env` file."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["dev", "test", "production"]

DEV_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - refused outside dev/test
MIN_SECRET_LENGTH = 32


class ConfigurationError(RuntimeError):
    """A setting makes the service unsafe or unable to start; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAZAAR_", env_file=".env", extra="ignore")

    environment: Environment = "dev"
    database_url: str = "sqlite+aiosqlite:///./bazaar.db"
    allow_sqlite_in_production: bool = False
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEV_SECRET)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # SQLAlchemy's default pool churns connections under load (DESIGN.md §9): size it on purpose.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON outside dev, pretty console in dev

    demo_data: bool = False
    node_id: str = Field(default="hub", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    scheduler_enabled: bool = True
    leader_lease_seconds: int = Field(default=30, ge=5)

    @field_validator("cors_origins", "trusted_hosts", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.environment != "dev"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment != "production":
            return self
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"BAZAAR_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production"
            )
        if self.demo_data:
            raise ConfigurationError("BAZAAR_DEMO_DATA must be false in production")
        if self.is_sqlite and not self.allow_sqlite_in_production:
            raise ConfigurationError(
                "BAZAAR_DATABASE_URL points at SQLite; use PostgreSQL in production "
                "or set BAZAAR_ALLOW_SQLITE_IN_PRODUCTION=true for a single-node install"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
