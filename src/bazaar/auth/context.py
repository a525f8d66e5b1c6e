"""What the auth domain builds once per process from the settings: token keys, the password
hasher, the rate limiter and the notifier. Created on first use and kept on the process's
runtime."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from limits import RateLimitItem
from redis.asyncio import Redis

from bazaar.auth.access_tokens import TokenConfig
from bazaar.auth.notifier import Notifier, OutboxNotifier
from bazaar.auth.passwords import Argon2Params, PasswordHasher
from bazaar.auth.ratelimits import RateLimits, rules
from bazaar.auth.validity_cache import ValidityCache
from bazaar.config import ConfigurationError, Settings
from bazaar.db import Database
from bazaar.runtime import Runtime

DERIVED_KID = "derived"


def token_config(settings: Settings) -> TokenConfig:
    keys = {kid: key.get_secret_value().encode() for kid, key in settings.auth_jwt_keys.items()}
    if not keys:
        # A key of its own for signing tokens, so the JWT key never equals the secret used
        # elsewhere; configure BAZAAR_AUTH_JWT_KEYS to rotate keys without logging everyone out.
        secret = settings.secret_key.get_secret_value().encode()
        keys = {DERIVED_KID: hmac.new(secret, b"bazaar access tokens", hashlib.sha256).digest()}
    signing_kid = settings.auth_jwt_signing_kid
    if signing_kid is None:
        if len(keys) > 1:
            raise ConfigurationError("BAZAAR_AUTH_JWT_SIGNING_KID must name the key to sign with")
        signing_kid = next(iter(keys))
    try:
        return TokenConfig(
            keys=keys,
            signing_kid=signing_kid,
            issuer=settings.auth_jwt_issuer,
            audience=settings.auth_jwt_audience,
            access_ttl=timedelta(minutes=settings.auth_access_token_minutes),
            leeway=timedelta(seconds=settings.auth_token_leeway_seconds),
        )
    except ValueError as exc:
        raise ConfigurationError(f"BAZAAR_AUTH_JWT_KEYS: {exc}") from exc


def argon2_params(settings: Settings) -> Argon2Params:
    return Argon2Params(
        time_cost=settings.auth_argon2_time_cost,
        memory_cost=settings.auth_argon2_memory_kib,
        parallelism=settings.auth_argon2_parallelism,
    )


@cache
def password_hasher(params: Argon2Params) -> PasswordHasher:
    return PasswordHasher(params)


@dataclass(frozen=True)
class RateRules:
    login_account: list[RateLimitItem]
    login_address: list[RateLimitItem]
    signup_address: list[RateLimitItem]
    refresh_address: list[RateLimitItem]
    per_user: list[RateLimitItem]
    reset_address: list[RateLimitItem]

    @classmethod
    def from_settings(cls, settings: Settings) -> RateRules:
        return cls(
            login_account=rules(settings.auth_limit_login_account),
            login_address=rules(settings.auth_limit_login_address),
            signup_address=rules(settings.auth_limit_signup_address),
            refresh_address=rules(settings.auth_limit_refresh_address),
            per_user=rules(settings.auth_limit_per_user),
            reset_address=rules(settings.auth_limit_reset_address),
        )


@dataclass(frozen=True)
class AuthContext:
    settings: Settings
    db: Database
    redis: Redis | None
    tokens: TokenConfig
    hasher: PasswordHasher
    limits: RateLimits
    rules: RateRules
    validity: ValidityCache
    notifier: Notifier


def auth_context(runtime: Runtime) -> AuthContext:
    """The process's context, built on first use and kept on its runtime."""
    if runtime.auth is None:
        settings = runtime.settings
        runtime.auth = AuthContext(
            settings=settings,
            db=runtime.db,
            redis=runtime.redis,
            tokens=token_config(settings),
            hasher=password_hasher(argon2_params(settings)),
            limits=RateLimits(runtime.redis),
            rules=RateRules.from_settings(settings),
            validity=ValidityCache(settings.auth_validity_cache_seconds),
            notifier=OutboxNotifier(log_body=settings.environment == "dev"),
        )
        # Credentials this process ends are refused here from its very next request.
        runtime.events.subscribe(runtime.auth.validity.forget_ended)
    return runtime.auth
