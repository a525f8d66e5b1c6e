"""Identity and access: users, roles, passwords, tokens, API keys and rate limits."""
