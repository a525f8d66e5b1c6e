"""The cost of an authenticated request: `GET /api/v1/loans/{id}` and `GET /api/v1/auth/me`
on one Bazaar worker, against a bare FastAPI app reading the same loan row with the raw driver
and no authentication (bench/baseline_read.py), on SQLite and PostgreSQL.

Each server runs pinned to core 0 and the load generator to the other cores, so a ratio
compares servers, not the load generator's share of the machine. Target (issue 15): >= 0.4.
The profile behind the figures is in docs/performance.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from bench.harness import BIN, Stats, free_port, interleaved, load, report, start_server
from bench.lending import _database, _token, migrated_portfolio


def _pinned(argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", "0", *argv] if taskset and (os.cpu_count() or 1) > 1 else argv


@contextmanager
def _load_off_core_zero() -> Iterator[None]:
    before = os.sched_getaffinity(0)
    others = before - {0}
    if others:
        os.sched_setaffinity(0, others)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _pass(backend: str, database_url: str, seconds: float, rounds: int) -> None:
    env, portfolio = migrated_portfolio(database_url)
    api_port, bare_port = free_port(), free_port()
    api = _pinned([str(BIN / "bazaar"), "serve", "--port", str(api_port), "--workers", "1"])
    uvicorn = [str(BIN / "uvicorn"), "bench.baseline_read:app", "--log-level", "warning"]
    bare = _pinned([*uvicorn, "--port", str(bare_port)])
    with ExitStack() as stack, _load_off_core_zero():
        stack.enter_context(start_server(api, api_port, env))
        stack.enter_context(start_server(bare, bare_port, env))
        api_url, bare_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
        auth = {"Authorization": f"Bearer {_token(api_url)}"}
        loan = portfolio.api_loans[0]

        def get(url: str, headers: dict[str, str] | None = None) -> Callable[[], Stats]:
            return lambda: load(url, seconds=seconds, headers=headers)

        found = interleaved(
            {
                "bare": get(f"{bare_url}/loans/{loan}/{portfolio.officer_id}"),
                "loan": get(f"{api_url}/api/v1/loans/{loan}", auth),
                "me": get(f"{api_url}/api/v1/auth/me", auth),
            },
            rounds,
        )
    report(f"[{backend}] bare FastAPI + raw driver, no auth", found["bare"])
    report(f"[{backend}] GET /api/v1/loans/{{id}} (auth)", found["loan"], found["bare"])
    report(f"[{backend}] GET /api/v1/auth/me (auth)", found["me"], found["bare"])


def run(smoke: bool) -> None:
    seconds, rounds = (1.0, 1) if smoke else (5.0, 3)
    for backend in ("sqlite", "postgres"):
        with _database(backend) as database_url:
            if database_url is not None:
                _pass(backend, database_url, seconds, rounds)
