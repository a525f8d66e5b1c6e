"""Opaque secrets: refresh tokens and API keys. Only their digests are stored."""

import hashlib
import secrets
from dataclasses import dataclass

REFRESH_TOKEN_PREFIX = "bzr_rt_"  # noqa: S105 - a prefix, not a secret
API_KEY_PREFIX = "bzr_ak_"


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewApiKey:
    key: str
    # Shown in listings so an owner can tell keys apart without the secret.
    prefix: str


def new_api_key() -> NewApiKey:
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    return NewApiKey(key=f"{prefix}_{secrets.token_urlsafe(32)}", prefix=prefix)


def hash_secret(secret: str) -> str:
    """Digest under which refresh tokens and API keys are stored and looked up.

    A plain SHA-256 suffices (no salt, no stretching): the secrets carry 256 random bits, so a
    leaked table cannot be brute-forced, and equal inputs must give equal digests for the lookup.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
