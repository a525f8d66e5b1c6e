import pytest

from bazaar.auth.passwords import (
    MAX_LENGTH,
    Argon2Params,
    PasswordHasher,
    check_password_policy,
    common_passwords,
)

STRONG = "correct horse battery staple"


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(Argon2Params())


async def test_hash_is_argon2id_at_the_floor_and_verifies(hasher: PasswordHasher) -> None:
    stored = await hasher.hash(STRONG)

    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(stored, STRONG)
    assert not await hasher.verify(stored, STRONG + "!")


async def test_no_truncation_a_difference_at_the_last_character_counts(
    hasher: PasswordHasher,
) -> None:
    long_password = "x" * (MAX_LENGTH - 1) + "a"
    stored = await hasher.hash(long_password)

    assert not await hasher.verify(stored, "x" * (MAX_LENGTH - 1) + "b")


async def test_missing_or_garbage_hash_never_verifies(hasher: PasswordHasher) -> None:
    assert not await hasher.verify(None, STRONG)
    assert not await hasher.verify("not-a-hash", STRONG)


async def test_rehash_needed_when_parameters_change(hasher: PasswordHasher) -> None:
    stored = await hasher.hash(STRONG)
    stronger = PasswordHasher(Argon2Params(time_cost=3))

    assert not hasher.needs_rehash(stored)
    assert stronger.needs_rehash(stored)
    assert await stronger.verify(stored, STRONG)


def test_parameters_below_the_floor_are_refused() -> None:
    with pytest.raises(ValueError, match="floor"):
        Argon2Params(memory_cost=8192)
    with pytest.raises(ValueError, match="floor"):
        Argon2Params(time_cost=1)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short7!", "at least 8"),
        ("y" * (MAX_LENGTH + 1), "at most 128"),
        ("password", "too common"),
        ("PassWord1", "too common"),
        ("qwertyuiop", "too common"),
    ],
)
def test_policy_refuses(password: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_password_policy(password)


@pytest.mark.parametrize("password", ["8chars!!", "z" * MAX_LENGTH, STRONG, "pässwörd-ünïcode"])
def test_policy_accepts(password: str) -> None:
    assert check_password_policy(password) == password


def test_common_list_holds_at_least_the_top_thousand() -> None:
    listed = common_passwords()

    assert len(listed) >= 1000
    assert {"password", "12345678", "iloveyou", "1q2w3e4r5t"} <= listed
