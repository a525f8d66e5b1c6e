from bazaar.auth.opaque_tokens import hash_secret, new_api_key, new_refresh_token


def test_opaque_secrets_are_random_prefixed_and_hash_deterministically() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    key = new_api_key()

    assert first != second
    assert first.startswith("bzr_rt_")
    assert len(first) > 40
    assert key.key.startswith(key.prefix + "_")
    assert key.prefix.startswith("bzr_ak_")
    assert hash_secret(first) == hash_secret(first) != hash_secret(second)
    assert first not in hash_secret(first)
