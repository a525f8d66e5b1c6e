"""The bare baseline of `bench.run request_cost`: FastAPI with no middleware and no
authentication, reading the same loan row with the raw driver (aiosqlite or asyncpg).

Run as `uvicorn bench.baseline_read:app` with BAZAAR_DATABASE_URL set.
"""

from __future__ import annotations

import uuid

import orjson
from fastapi import FastAPI, Response

from bazaar.config import get_settings
from bench.lending_raw import RawDriver

driver = RawDriver(get_settings().database_url)
app = FastAPI()


@app.get("/loans/{loan_id}/{user_id}")
async def loan(loan_id: uuid.UUID, user_id: uuid.UUID) -> Response:
    row = await driver.fetch_loan(loan_id, user_id)
    if row is None:
        return Response(status_code=404)
    return Response(orjson.dumps(row, default=str), media_type="application/json")
