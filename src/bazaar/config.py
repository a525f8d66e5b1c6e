"""Typed settings, read from `BAZAAR_*` environment variables and an optional `.env` file."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["dev", "test", "production"]

DEV_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - refused outside dev/test
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"  # noqa: S105 - refused in production
SANDBOX_GATEWAY_KEY = "sandbox-key"  # the shipped sandbox gateway's, not a real provider's
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
    worker_start_seconds: int = Field(
        default=60,
        ge=1,
        le=600,
        description="How long a new worker may take to start serving before Uvicorn replaces it",
    )

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # Overflow connections are opened and closed again under load: with 16 concurrent read
    # transactions on PostgreSQL a 10+5 pool managed ~430/s, a 32-connection pool ~1,300/s.
    # Keep every connection pooled; requests beyond the pool wait for one instead of churning.
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON outside dev, pretty console in dev

    demo_data: bool = False
    node_id: str = Field(default="hub", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    scheduler_enabled: bool = True
    leader_lease_seconds: int = Field(default=30, ge=5)

    # Sync (docs/sync-protocol.md). A hub URL makes this process a field node of that hub.
    sync_hub_url: str | None = None
    sync_api_key: SecretStr | None = None
    sync_interval_seconds: float = Field(default=10, gt=0)
    sync_max_attempts: int = Field(default=8, ge=1)
    sync_backoff_base_seconds: float = Field(default=1, gt=0)
    sync_backoff_cap_seconds: float = Field(default=300, gt=0)
    sync_batch_min: int = Field(default=10, ge=1)
    sync_batch_max: int = Field(default=1000, ge=1)
    sync_batch_initial: int = Field(default=200, ge=1)
    sync_request_timeout_seconds: float = Field(default=30, gt=0)
    # "entity.field" -> policy name, overriding the defaults, e.g. {"customer.phone": "server_wins"}
    sync_policies: dict[str, str] = Field(default_factory=dict)
    sync_change_log_retention_days: float = Field(
        default=30,
        gt=0,
        description="Past this age the change log keeps only each row's latest change; a node "
        "whose cursor is older re-bootstraps its scope",
    )

    # Identity and access (auth/). JWT keys as JSON {"kid": "secret"}: sign with
    # auth_jwt_signing_kid, verify with all (rotation); none configured derives one from secret_key.
    auth_jwt_keys: dict[str, SecretStr] = Field(default_factory=dict)
    auth_jwt_signing_kid: str | None = None
    auth_jwt_issuer: str = "bazaar"
    auth_jwt_audience: str = "bazaar-api"
    auth_access_token_minutes: int = Field(default=15, ge=1, le=60)
    auth_token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    auth_validity_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description="How long a worker reuses what a credential check read; other workers see "
        "a revocation within this long (0: read on every request)",
    )
    auth_refresh_token_days: int = Field(default=30, ge=1, le=365)
    auth_refresh_idle_days: int = Field(default=7, ge=1, le=365)
    # argon2id; the floors are OWASP ASVS 5.0's (19 MiB, 2 passes, 1 lane).
    auth_argon2_time_cost: int = Field(default=2, ge=2)
    auth_argon2_memory_kib: int = Field(default=19_456, ge=19_456)
    auth_argon2_parallelism: int = Field(default=1, ge=1)
    # `limits` notation, ';' between rules that all apply. Sign-in attempts (each takes its slot
    # before the password is checked) count per account and per client address; signup, refresh
    # and password-reset requests per address; every authenticated call per user.
    auth_limit_login_account: str = "100/hour;20/minute"
    auth_limit_login_address: str = "300/hour;60/minute"
    auth_limit_signup_address: str = "20/hour"
    auth_limit_refresh_address: str = "120/minute"
    auth_limit_per_user: str = "1200/minute"
    auth_limit_reset_address: str = "10/hour"
    # A password-reset token is single-use and works this long.
    auth_password_reset_minutes: int = Field(default=30, ge=5, le=1440)

    # Realtime (realtime/). History per channel feeds resume after a reconnect; a socket whose
    # send queue fills is dropped so it never slows the others; the flood limit is a token bucket.
    ws_heartbeat_interval: float = Field(default=30.0, gt=0)
    ws_max_connections: int = Field(default=10_000, ge=1)
    ws_history_size: int = Field(default=500, ge=1, le=100_000)
    ws_history_ttl: float = Field(default=3600.0, gt=0)
    ws_send_queue: int = Field(default=1024, ge=1)
    ws_max_message_bytes: int = Field(default=65_536, ge=256)
    # permessage-deflate keeps zlib state per socket (~38 KiB) and compresses every frame for
    # every socket separately: 30 -> 18 us of server CPU per delivered notification without it.
    ws_compression: bool = False
    ws_rate_per_second: float = Field(default=20.0, gt=0)
    ws_rate_burst: int = Field(default=40, ge=1)

    # Commerce (commerce/, docs/commerce.md). Amounts are in `currency`, rounded to its minor
    # unit half to even; the tax rate is a percentage of the discounted subtotal.
    currency: str = Field(default="INR", pattern=r"^[A-Z]{3}$")
    commerce_tax_rate_percent: Decimal = Field(default=Decimal("8"), ge=0, le=100)
    commerce_shipping_fee: Decimal = Field(default=Decimal("50"), ge=0)
    commerce_free_shipping_threshold: Decimal = Field(default=Decimal("500"), ge=0)
    commerce_hold_minutes: float = Field(default=15, gt=0, le=24 * 60)
    commerce_low_stock_threshold: int = Field(default=5, ge=0)
    commerce_allocation: Literal["priority", "highest_stock"] = "priority"
    # Loyalty: tiers by points earned in the last 12 months; points redeem at this many per
    # currency unit and expire this many days after they are credited.
    loyalty_silver_points: int = Field(default=1_000, ge=1)
    loyalty_gold_points: int = Field(default=5_000, ge=1)
    loyalty_platinum_points: int = Field(default=15_000, ge=1)
    loyalty_points_per_currency_unit: int = Field(default=100, ge=1, le=1_000_000)
    loyalty_points_valid_days: int = Field(default=365, ge=1, le=3_650)
    loyalty_points_per_currency_unit_spent: Decimal = Field(default=Decimal(1), ge=0, le=1_000)
    # Orders and payments. The default gateway is the shipped sandbox (`bazaar commerce
    # sandbox-gateway`, which `make run` starts); webhooks are verified with the secret.
    payment_gateway_url: str = "http://127.0.0.1:8001"
    payment_gateway_api_key: SecretStr = SecretStr(SANDBOX_GATEWAY_KEY)
    payment_gateway_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    payment_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    payment_webhook_tolerance_seconds: int = Field(default=300, ge=1)
    commerce_delivery_days: int = Field(default=5, ge=1, le=60)
    commerce_return_days: int = Field(default=30, ge=0, le=365)

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
    def _tiers_ascend(self) -> Settings:
        tiers = (self.loyalty_silver_points, self.loyalty_gold_points, self.loyalty_platinum_points)
        if not tiers[0] < tiers[1] < tiers[2]:
            raise ConfigurationError(
                "BAZAAR_LOYALTY_SILVER_POINTS < BAZAAR_LOYALTY_GOLD_POINTS < "
                "BAZAAR_LOYALTY_PLATINUM_POINTS must hold"
            )
        return self

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
        if self.payment_webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            raise ConfigurationError(
                "BAZAAR_PAYMENT_WEBHOOK_SECRET must be set to the gateway's signing secret "
                "in production"
            )
        if self.is_sqlite and not self.allow_sqlite_in_production:
            raise ConfigurationError(
                "BAZAAR_DATABASE_URL points at SQLite; use PostgreSQL in production "
                "or set BAZAAR_ALLOW_SQLITE_IN_PRODUCTION=true for a single-node install"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
