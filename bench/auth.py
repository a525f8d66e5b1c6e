"""Identity: sign-in latency (argon2id at the ASVS floor, in a thread) and authenticated reads
(JWT check plus the per-request revocation lookup) next to /health on the same server."""

from __future__ import annotations

import json

import httpx

from bench.harness import bazaar_server, load, report

ACCOUNT = {
    "email": "bench@example.com",
    "password": "benchmarks all night long",
    "full_name": "Bench Mark",
}
JSON = {"Content-Type": "application/json"}


def run(smoke: bool) -> None:
    seconds = 1.0 if smoke else 10.0
    # One account makes every request from one address: lift its limits for the run (every
    # sign-in attempt takes a slot of the account's and the address's limits).
    unlimited = "100000000/minute"
    env = {
        "BAZAAR_AUTH_LIMIT_PER_USER": unlimited,
        "BAZAAR_AUTH_LIMIT_LOGIN_ACCOUNT": unlimited,
        "BAZAAR_AUTH_LIMIT_LOGIN_ADDRESS": unlimited,
    }
    with bazaar_server(env) as url:
        httpx.post(f"{url}/api/v1/auth/signup", json=ACCOUNT, timeout=30).raise_for_status()
        credentials = json.dumps({k: ACCOUNT[k] for k in ("email", "password")}).encode()
        login = httpx.post(f"{url}/api/v1/auth/login", content=credentials, headers=JSON)
        bearer = {"Authorization": f"Bearer {login.raise_for_status().json()['access_token']}"}

        health = load(f"{url}/health", seconds=seconds)
        report("bazaar GET /health (baseline)", health)
        me = load(f"{url}/api/v1/auth/me", seconds=seconds, headers=bearer)
        report("GET /api/v1/auth/me (bearer JWT)", me, health)
        for concurrency in (1, 8):
            signed_in = load(
                f"{url}/api/v1/auth/login",
                seconds=seconds,
                concurrency=concurrency,
                method="POST",
                headers=JSON,
                bodies=[credentials],
            )
            report(f"POST /api/v1/auth/login, {concurrency} at once", signed_in, health)
