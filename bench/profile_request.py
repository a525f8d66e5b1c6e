"""Where one authenticated request's time goes: `bazaar serve` (one worker) under a wrk load on
`GET /api/v1/loans/{id}`, `GET /api/v1/auth/me` or `POST /api/v1/payments`, sampled by py-spy and
broken down into framework, middleware, authentication, rate limit, queries, serialization and
the server's event loop.

    pip install py-spy && apt-get install wrk
    python -m bench.profile_request [loan|me|payment] [--seconds 8]

Not part of `make bench`: it needs py-spy (ptrace) and wrk, and prints shares, not a ratio.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.harness import BIN, free_port, start_server
from bench.lending import _payments, _token, migrated_portfolio

# First match from the leaf up names the part a sample belongs to.
PARTS = (
    ("authentication", ("auth/authentication", "auth/access_tokens", "jwt/", "validity_cache")),
    ("rate limit", ("auth/ratelimits", "limits/")),
    ("queries", ("sqlalchemy/", "aiosqlite", "asyncpg", "sqlite_driver")),
    ("serialization", ("pydantic", "orjson", "encoders.py", "json")),
    ("middleware", ("bazaar/middleware", "observability/", "starlette/middleware", "structlog")),
    ("framework", ("fastapi/", "starlette/")),
    ("server and event loop", ("uvicorn/", "httptools", "asyncio/", "uvloop")),
)


def _part(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, needles in PARTS:
            if any(needle in frame for needle in needles):
                return name
    return "other (domain code)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", nargs="?", default="loan", choices=["loan", "me", "payment"])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--keep", type=Path, help="also write py-spy's raw stacks here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'profile.db'}"
        env, portfolio = migrated_portfolio(url)
        port = free_port()
        argv = [str(BIN / "bazaar"), "serve", "--port", str(port), "--workers", "1"]
        with start_server(argv, port, env) as server:
            base = f"http://127.0.0.1:{port}"
            headers = ["-H", f"Authorization: Bearer {_token(base)}"]
            path = {
                "loan": f"/api/v1/loans/{portfolio.api_loans[0]}",
                "me": "/api/v1/auth/me",
                "payment": "/api/v1/payments",
            }[args.target]
            wrk = [shutil.which("wrk") or "wrk", "-t1", "-c32", f"-d{args.seconds + 2:.0f}s"]
            if args.target == "payment":
                script = Path(tmp) / "post.lua"
                body = _payments(portfolio.api_loans)[0].decode()
                script.write_text(
                    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = [[{body}]]\n"
                )
                wrk += ["-s", str(script)]
            # A second of load first: the first requests build FastAPI's route contexts and
            # SQLAlchemy's compiled statements, once per process, which is not the steady cost.
            warm = [wrk[0], "-t1", "-c8", "-d1s", *wrk[4:]]
            subprocess.run([*warm, *headers, base + path], check=True, capture_output=True)
            load = subprocess.Popen([*wrk, *headers, base + path], stdout=subprocess.PIPE)
            folded = Path(tmp) / "stacks.txt"
            record = [str(BIN / "py-spy"), "record", "--pid", str(server.pid), "--format", "raw"]
            duration = ["--duration", f"{args.seconds:.0f}", "--nonblocking"]
            subprocess.run([*record, *duration, "--output", str(folded)], check=True)
            out, _ = load.communicate()
        if args.keep is not None:
            args.keep.write_text(folded.read_text())
        samples: collections.Counter[str] = collections.Counter()
        for line in folded.read_text().splitlines():
            stack, _, seen = line.rpartition(" ")
            samples[_part(stack)] += int(seen)
    total = max(sum(samples.values()), 1)
    print(f"{args.target}: {total} samples over {args.seconds:.0f} s under wrk -c32")
    for name, count in samples.most_common():
        print(f"  {name:<24} {100 * count / total:5.1f} %")
    print(out.decode().strip().splitlines()[-2])


if __name__ == "__main__":
    main()
