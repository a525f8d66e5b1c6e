"""Commerce: catalog search, `GET /api/v1/products?search=` on a catalog of generated products,
next to routes of the same app running the same full-text query with the raw driver and a
`LIKE '%term%'` scan (bench/commerce_raw.py), on SQLite and, when reachable, PostgreSQL.

Target (issue 17): the API at >= 0.6 of the raw driver's req/s; the speed-up over LIKE is
reported. Full runs use 100,000 products and interleave three rounds of the loads compared.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal

import httpx
from sqlalchemy import insert, text

from bazaar.commerce.models import Product, Variant
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.stamps import new_id, utcnow
from bench.harness import BIN, Stats, free_port, interleaved, load, report, start_server
from bench.lending import _database, _token, migrated_env
from bench.portfolio import staff

ADJECTIVES = [
    "light",
    "slim",
    "rugged",
    "classic",
    "smart",
    "compact",
    "premium",
    "handmade",
    "eco",
    "wireless",
]
NOUNS = [
    "laptop",
    "phone",
    "saree",
    "kurta",
    "shoes",
    "sandals",
    "teapot",
    "kettle",
    "lamp",
    "chair",
    "table",
    "shelf",
    "blender",
    "speaker",
    "headphones",
    "backpack",
    "wallet",
    "watch",
    "bottle",
    "blanket",
]
BRANDS = [
    "Aero",
    "Stride",
    "Priya",
    "Joseph",
    "Fatima",
    "Lumen",
    "Orbit",
    "Tarang",
    "Vayu",
    "Kiran",
]
FILLER = [
    "cotton",
    "steel",
    "teak",
    "bamboo",
    "leather",
    "glass",
    "cushioned",
    "durable",
    "woven",
    "polished",
    "matte",
    "warranty",
    "gift",
    "festive",
    "daily",
    "office",
    "travel",
    "kitchen",
    "garden",
    "kids",
    "winter",
    "summer",
    "monsoon",
]
TERM = "laptop"
BATCH = 5_000


def _products(count: int) -> list[list[dict[str, object]]]:
    rng = random.Random(17)
    now = utcnow()
    batches: list[list[dict[str, object]]] = [[]]
    for number in range(count):
        noun = NOUNS[number % len(NOUNS)]
        batches[-1].append(
            {
                "id": new_id(),
                "created_at": now,
                "updated_at": now,
                "name": f"{rng.choice(ADJECTIVES).title()} {noun.title()} {number}",
                "description": " ".join(rng.choices(FILLER, k=12)),
                "category": noun,
                "brand": rng.choice(BRANDS),
                "base_price": Decimal(rng.randrange(100, 100_000)),
                "images": [],
                "attributes": {},
                "rating": 0.0,
                "review_count": 0,
                "status": "active",
            }
        )
        if len(batches[-1]) == BATCH:
            batches.append([])
    return [batch for batch in batches if batch]


async def _seed(database_url: str, count: int) -> None:
    settings = Settings(_env_file=None, environment="test", database_url=database_url)
    runtime = Runtime.create(settings)
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            await staff(session=session)  # officer@bench.bazaar searches as staff
        for batch in _products(count):
            async with unit_of_work(runtime.db, runtime.events) as session:
                await session.execute(insert(Product), batch)
                variants = [
                    {
                        "id": new_id(),
                        "created_at": row["created_at"],
                        "updated_at": row["updated_at"],
                        "product_id": row["id"],
                        "sku": f"SKU-{row['id']}",
                    }
                    for row in batch
                ]
                await session.execute(insert(Variant), variants)
        if database_url.startswith("postgresql"):
            # What autovacuum does soon after a bulk load: without statistics the planner
            # guesses ~100 products, walks all 100,000 and probes the index per product
            # (290 ms for the page, 22 ms once analyzed).
            async with unit_of_work(runtime.db, runtime.events) as session:
                await session.execute(text("ANALYZE"))
    finally:
        await runtime.close()


def _pass(backend: str, database_url: str, count: int, seconds: float, rounds: int) -> None:
    env = migrated_env(database_url)
    asyncio.run(_seed(database_url, count))
    port = free_port()
    argv = [str(BIN / "uvicorn"), "bench.commerce_raw:app", "--port", str(port)]
    with start_server([*argv, "--log-level", "warning"], port, env):
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {_token(url)}"}

        def get(path: str) -> Callable[[], Stats]:
            # The first request of a route pays for imports and caches: not part of the load.
            httpx.get(url + path, headers=auth, timeout=60).raise_for_status()
            return lambda: load(url + path, seconds=seconds, headers=auth)

        found = interleaved(
            {
                "raw": get(f"/bench/raw/search?q={TERM}"),
                "api": get(f"/api/v1/products?search={TERM}"),
                "like": get(f"/bench/raw/like?q={TERM}"),
            },
            rounds,
        )
        name = f"[{backend}] {count:,} products"
        report(f"{name}: raw driver full-text search", found["raw"])
        report(f"{name}: GET /api/v1/products?search= (auth)", found["api"], found["raw"])
        report(f"{name}: raw driver LIKE '%term%' scan", found["like"], found["raw"])


def run(smoke: bool) -> None:
    count, seconds, rounds = (2_000, 1.0, 1) if smoke else (100_000, 5.0, 3)
    for backend in ("sqlite", "postgres"):
        with _database(backend) as database_url:
            if database_url is not None:
                _pass(backend, database_url, count, seconds, rounds)
