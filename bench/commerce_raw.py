"""The app bench/commerce.py measures: Bazaar itself plus baseline routes that run the catalog
search with the raw driver (aiosqlite or asyncpg), no ORM, authenticated as Bazaar's routes are:

- `/bench/raw/search?q=`: the same full-text query as `GET /api/v1/products?search=` for a word
  that begins catalog words (a prefix match on the same index, ranked the same way), its count,
  and the page of 50 products;
- `/bench/raw/like?q=`: the same page and count by `LIKE '%q%'` over names and descriptions,
  which no index serves.

Run as `uvicorn bench.commerce_raw:app` with the usual BAZAAR_* environment.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
import asyncpg
import orjson
from fastapi import APIRouter, Query, Response
from sqlalchemy.engine import make_url

from bazaar.auth.dependencies import CurrentUser
from bazaar.config import get_settings
from bazaar.main import create_app

PAGE = 50
SQLITE_MATCHES = """
WITH m AS MATERIALIZED (SELECT rowid AS key, -bm25(product_search, 10, 4, 4, 1) AS score
                        FROM product_search WHERE product_search MATCH ?1)
"""
SQLITE_SEARCH = (
    SQLITE_MATCHES
    + """
SELECT p.id, p.name, p.brand, p.base_price, m.score
FROM m JOIN product_search_keys k ON k.key = m.key JOIN products p ON p.id = k.product_id
WHERE p.status = 'active' ORDER BY m.score DESC, p.id DESC LIMIT {page}
"""
)
SQLITE_SEARCH_COUNT = (
    SQLITE_MATCHES
    + """
SELECT count(*)
FROM m JOIN product_search_keys k ON k.key = m.key JOIN products p ON p.id = k.product_id
WHERE p.status = 'active'
"""
)
PG_SEARCH = """
SELECT p.id, p.name, p.brand, p.base_price, ts_rank(s.document, q) AS score
FROM products p JOIN product_search s ON s.product_id = p.id, to_tsquery('simple', $1) q
WHERE s.document @@ q AND p.status = 'active' ORDER BY score DESC, p.id DESC LIMIT {page}
"""
PG_SEARCH_COUNT = """
SELECT count(*) FROM products p JOIN product_search s ON s.product_id = p.id
WHERE s.document @@ to_tsquery('simple', $1) AND p.status = 'active'
"""
LIKE = """
SELECT p.id, p.name, p.brand, p.base_price FROM products p
WHERE (lower(p.name) LIKE {mark} OR lower(p.description) LIKE {mark}) AND p.status = 'active'
ORDER BY p.id DESC LIMIT {page}
"""
LIKE_COUNT = """
SELECT count(*) FROM products p
WHERE (lower(p.name) LIKE {mark} OR lower(p.description) LIKE {mark}) AND p.status = 'active'
"""


class RawDriver:
    """A few aiosqlite connections (reads run side by side under WAL) or an asyncpg pool."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self._ready = asyncio.Lock()
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._pool: asyncpg.Pool | None = None
        self._opened = False

    async def _open(self) -> None:
        async with self._ready:
            if self._opened:
                return
            if self.sqlite:
                for _ in range(4):
                    self._idle.put_nowait(await aiosqlite.connect(str(self.url.database)))
            else:
                dsn = self.url.set(drivername="postgresql").render_as_string(False)
                self._pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
            self._opened = True

    async def page(self, query: str, count: str, argument: str) -> dict[str, Any]:
        await self._open()
        if self._pool is not None:
            async with self._pool.acquire() as connection:
                rows = await connection.fetch(query, argument)
                total = await connection.fetchval(count, argument)
            items = [dict(row) for row in rows]
        else:
            connection = await self._idle.get()
            try:
                found = await connection.execute_fetchall(query, (argument,))
                [(total,)] = await connection.execute_fetchall(count, (argument,))
            finally:
                self._idle.put_nowait(connection)
            keys = ("id", "name", "brand", "base_price", "score")
            items = [dict(zip(keys, row, strict=False)) for row in found]
        return {"items": items, "total": total}

    async def search(self, word: str) -> dict[str, Any]:
        if self.sqlite:
            sql = (SQLITE_SEARCH.format(page=PAGE), SQLITE_SEARCH_COUNT)
            return await self.page(*sql, f'"{word}"*')
        return await self.page(PG_SEARCH.format(page=PAGE), PG_SEARCH_COUNT, f"'{word}':*")

    async def like(self, word: str) -> dict[str, Any]:
        mark = "?1" if self.sqlite else "$1"
        sql = LIKE.format(mark=mark, page=PAGE), LIKE_COUNT.format(mark=mark)
        return await self.page(*sql, f"%{word}%")


driver = RawDriver(get_settings().database_url)
router = APIRouter(prefix="/bench")
Word = Query(pattern=r"^[a-z0-9]{1,40}$")


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body, default=str), media_type="application/json")


@router.get("/raw/search")
async def raw_search(principal: CurrentUser, q: str = Word) -> Response:
    return _json(await driver.search(q))


@router.get("/raw/like")
async def raw_like(principal: CurrentUser, q: str = Word) -> Response:
    return _json(await driver.like(q))


app = create_app()
app.include_router(router)
