"""Password policy and argon2id hashing.

Hashing runs in a worker thread so a login never blocks the event loop, and at most one hash per
CPU runs at once: each argon2 call holds ``memory_cost`` KiB, so a burst of logins must queue
rather than swap.
"""

import os
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import anyio
import anyio.to_thread
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
# Argon2 reads the whole password (bcrypt would silently drop everything past 72 bytes); the cap
# only bounds the work one request can ask for.
MAX_LENGTH = 128

# OWASP ASVS 5.0 / OWASP password storage floor for argon2id: 19 MiB, 2 iterations, 1 lane.
FLOOR_TIME_COST = 2
FLOOR_MEMORY_COST_KIB = 19_456
FLOOR_PARALLELISM = 1


@cache
def common_passwords() -> frozenset[str]:
    text = files("bazaar.auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password_policy(password: str) -> str:
    """Return the password unchanged, or raise ValueError saying why (a pydantic validator)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"password must be at most {MAX_LENGTH} characters")
    if password.lower() in common_passwords():
        raise ValueError("password is too common")
    return password


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = FLOOR_TIME_COST
    memory_cost: int = FLOOR_MEMORY_COST_KIB
    parallelism: int = FLOOR_PARALLELISM

    def __post_init__(self) -> None:
        if (
            self.time_cost < FLOOR_TIME_COST
            or self.memory_cost < FLOOR_MEMORY_COST_KIB
            or self.parallelism < FLOOR_PARALLELISM
        ):
            raise ValueError("argon2id parameters below the ASVS floor (t=2, m=19456 KiB, p=1)")


class PasswordHasher:
    def __init__(self, params: Argon2Params) -> None:
        self._hasher = Argon2Hasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._limiter: anyio.CapacityLimiter | None = None
        # Verified against when the account does not exist, so an unknown email costs what a wrong
        # password does.
        self._dummy_hash = self._hasher.hash("not a real password: timing equaliser")

    def _thread_limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(os.cpu_count() or 1)
        return self._limiter

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(
            self._hasher.hash, password, limiter=self._thread_limiter()
        )

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when the password matches; with no stored hash, take as long and answer False."""
        return await anyio.to_thread.run_sync(
            self._verify_sync, stored_hash, password, limiter=self._thread_limiter()
        )

    def _verify_sync(self, stored_hash: str | None, password: str) -> bool:
        try:
            return (
                self._hasher.verify(stored_hash or self._dummy_hash, password)
                and stored_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
