"""Do two workers serve more than one? `GET /api/v1/loans/{id}` (authenticated) on PostgreSQL
with Redis, `bazaar serve --workers 1` against `--workers 2`, interleaved.

Target (issue 15): two workers >= 1.7x one. The load generator (wrk) runs on the same machine
and needs CPU of its own, so on a 2-core machine the target measures the machine as much as
the server: the figure is reported with that caveat in docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

from bench.harness import (
    Stats,
    free_port,
    interleaved,
    load,
    report,
    serve_argv,
    start_server,
)
from bench.lending import _database, _token, migrated_portfolio
from bench.load import REDIS


def _pass(database_url: str, seconds: float, rounds: int) -> None:
    env, portfolio = migrated_portfolio(database_url)
    env = {**env, "BAZAAR_REDIS_URL": REDIS}
    ports = {workers: free_port() for workers in (1, 2)}
    with ExitStack() as stack:
        for workers, port in ports.items():
            stack.enter_context(start_server(serve_argv(port, workers), port, env, timeout=120))
        urls = {workers: f"http://127.0.0.1:{port}" for workers, port in ports.items()}
        auth = {"Authorization": f"Bearer {_token(urls[1])}"}
        loan = portfolio.api_loans[0]

        def get(workers: int, duration: float = seconds) -> Callable[[], Stats]:
            url = f"{urls[workers]}/api/v1/loans/{loan}"
            return lambda: load(url, seconds=duration, concurrency=32, headers=auth)

        # A second of load on each first: a fresh worker's first requests build its route
        # contexts and compiled statements, and a 1 s smoke run otherwise counted nothing.
        for warm in (get(1, 1.0), get(2, 1.0)):
            warm()
        found = interleaved({"one": get(1), "two": get(2)}, rounds)
    report("[postgres+redis] GET /api/v1/loans/{id}, 1 worker", found["one"])
    report("[postgres+redis] the same, 2 workers", found["two"], found["one"])


def run(smoke: bool) -> None:
    seconds, rounds = (1.0, 1) if smoke else (5.0, 3)
    with _database("postgres") as database_url:
        if database_url is not None:
            _pass(database_url, seconds, rounds)
