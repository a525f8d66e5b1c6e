"""A mixed load at many users: `bench.run load`.

50 concurrent users for 60 s under Locust (headless), each an officer of its own with loans of
its own (bench/load_users.py): 80 % reads (a loan, the loan list, a schedule, the dashboard)
and 20 % payments, no pause between requests. SQLite is served by one worker; PostgreSQL with
Redis by two. Real `bazaar serve` processes on 127.0.0.1, a fresh seeded database per run.

Targets (issue 15): p99 < 200 ms for reads and < 300 ms for payments on PostgreSQL, < 500 ms for
payments on SQLite, no errors, and at least 2.5x the throughput of the commit before that work:

    python -m bench.load --before /path/to/worktree-of-55dc48c [--rounds 2]

serves the same load from the other tree's code in turn with this one's, `rounds` times.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import orjson

from bench.harness import BIN, free_port, serve_argv, start_server
from bench.lending import POSTGRES, _database
from bench.portfolio import PASSWORD

ROOT = Path(__file__).parent.parent
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
KINDS = ("loan", "list", "schedule", "dashboard", "payment")
BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class Shape:
    users: int
    seconds: int
    loans_per_user: int


FULL = Shape(users=50, seconds=60, loans_per_user=4)
SMOKE = Shape(users=4, seconds=3, loans_per_user=2)


@dataclass(frozen=True)
class Row:
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float


def _env(tree: Path, database_url: str, redis: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(tree / "src"), str(ROOT))),
        "BAZAAR_DATABASE_URL": database_url,
        "BAZAAR_ENVIRONMENT": "test",
        "BAZAAR_LOG_LEVEL": "WARNING",
        "BAZAAR_SCHEDULER_ENABLED": "false",
        # The load is far more than an officer does; the limits are for people, not this.
        "BAZAAR_AUTH_LIMIT_PER_USER": "100000000/minute",
        "BAZAAR_AUTH_LIMIT_LOGIN_ADDRESS": "100000/minute",
        "BAZAAR_AUTH_LIMIT_LOGIN_ACCOUNT": "100000/minute",
    }
    if redis:
        env["BAZAAR_REDIS_URL"] = REDIS
    return env


def _logged_in(base: str, people: list[dict[str, object]]) -> list[dict[str, object]]:
    with httpx.Client(base_url=base, timeout=60) as http:
        for person in people:
            answer = http.post(
                "/api/v1/auth/login", json={"email": person["email"], "password": PASSWORD}
            )
            answer.raise_for_status()
            person["token"] = answer.json()["access_token"]
        # Each request type once per worker's likely share before the clock starts: the first
        # of each builds FastAPI's route contexts and SQLAlchemy's compiled statements.
        for person in people[:4]:
            auth = {"Authorization": f"Bearer {person['token']}"}
            loans = cast(list[str], person["loans"])
            for path in (
                f"/api/v1/loans/{loans[0]}",
                f"/api/v1/loans/{loans[0]}/schedule",
                "/api/v1/loans/?limit=20",
                "/api/v1/dashboard/stats",
            ):
                http.get(path, headers=auth).raise_for_status()
    return people


def _ms(cell: str) -> float:
    """Locust writes N/A for a request type that got no answer."""
    return float("nan") if cell == "N/A" else float(cell)


def _locust(base: str, people_file: Path, shape: Shape, out: Path) -> dict[str, Row]:
    locust = shutil.which("locust", path=str(BIN)) or "locust"
    subprocess.run(
        [
            locust,
            "-f",
            str(ROOT / "bench" / "load_users.py"),
            "--headless",
            "--only-summary",
            "--users",
            str(shape.users),
            "--spawn-rate",
            str(shape.users),
            "--run-time",
            f"{shape.seconds}s",
            "--host",
            base,
            "--csv",
            str(out),
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, "BENCH_LOAD_USERS": str(people_file)},
        check=False,  # Locust exits 1 when any request failed; the failures are reported
        capture_output=True,
        timeout=shape.seconds + 120,
    )
    with Path(f"{out}_stats.csv").open() as stats:
        return {
            line["Name"]: Row(
                requests=int(line["Request Count"]),
                failures=int(line["Failure Count"]),
                rps=float(line["Requests/s"]),
                p50_ms=_ms(line["50%"]),
                p99_ms=_ms(line["99%"]),
            )
            for line in csv.DictReader(stats)
        }


def one_run(tree: Path, backend: str, shape: Shape) -> dict[str, Row]:
    """Seed a fresh database with `tree`'s code, serve it from `tree`, load it, stop."""
    with _database(backend) as database_url, tempfile.TemporaryDirectory() as tmp:
        if database_url is None:
            return {}
        env = _env(tree, database_url, redis=backend == "postgres")
        subprocess.run([str(BIN / "bazaar"), "migrate"], env=env, check=True, capture_output=True)
        people_file = Path(tmp) / "people.json"
        seed = [str(BIN / "python"), "-m", "bench.load_seed", database_url]
        seed += [str(shape.users), str(shape.loans_per_user), str(people_file)]
        subprocess.run(seed, env=env, check=True, capture_output=True)
        port = free_port()
        serve = serve_argv(port, workers=2 if backend == "postgres" else 1)
        with start_server(serve, port, env, timeout=120):
            base = f"http://127.0.0.1:{port}"
            people = _logged_in(base, orjson.loads(people_file.read_bytes()))
            people_file.write_bytes(orjson.dumps(people))
            return _locust(base, people_file, shape, Path(tmp) / "locust")


def report(label: str, rows: dict[str, Row]) -> None:
    total = rows.get("Aggregated")
    if total is None:
        print(f"{label}: no figures (backend unreachable?)", flush=True)
        return
    print(
        f"{label}: {total.rps:.0f} req/s, {total.requests} requests, {total.failures} errors,"
        f" p50/p99 {total.p50_ms:.0f}/{total.p99_ms:.0f} ms",
        flush=True,
    )
    for kind in KINDS:
        if (row := rows.get(kind)) is not None:
            print(
                f"  {kind:<10} {row.rps:>7.0f} req/s  p50 {row.p50_ms:>5.0f} ms"
                f"  p99 {row.p99_ms:>5.0f} ms  errors {row.failures}",
                flush=True,
            )


def run(smoke: bool) -> None:
    shape = SMOKE if smoke else FULL
    for backend in BACKENDS:
        workers = 2 if backend == "postgres" else 1
        label = f"[{backend}, {workers} worker{'s' * (workers > 1)}, {shape.users} users]"
        report(label, one_run(ROOT, backend, shape))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--before", type=Path, help="a worktree of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    args = parser.parse_args()
    shape = SMOKE if args.smoke else FULL
    if args.before is None:
        run(args.smoke)
        return
    print(f"(PostgreSQL at {POSTGRES}, Redis at {REDIS})")
    for backend in args.backend or BACKENDS:
        for number in range(args.rounds):
            for name, tree in (("before", args.before.resolve()), ("after", ROOT)):
                report(f"[{backend}] round {number + 1} {name}", one_run(tree, backend, shape))


if __name__ == "__main__":
    main()
