"""Full-text product search on each database's own index (built by migration 0011).

A query is split into words (`rules.words`); every word must match. A word that begins some
catalog word is matched as a prefix ("lap" finds "laptop"); one that begins none is replaced
by the catalog words within `rules.typos_allowed` edits of it ("lapotp" finds "laptop"), all
of them alternatives. The catalog's words come from the index itself:

- SQLite: an FTS5 table (`product_search`, keyed by the integer `product_search_keys` maps
  to the product; columns weighted name 10, brand and category 4,
  description 1 in bm25) and its fts5vocab table (`product_search_terms`). The typo candidates
  are the words of about the right length.
- PostgreSQL: a tsvector per product (`product_search`, GIN; name weighted A, brand and
  category B, description D, ranked by ts_rank) and the set of indexed words
  (`product_search_terms`, trigram GIN from pg_trgm). The typo candidates are the words that
  share enough trigrams (`%` at similarity 0.2): fewer than SQLite's on short words with a
  swapped letter, found without reading the whole vocabulary. Words of products that changed
  stay in that set; one that matches nothing only costs a candidate.

Both indexes are written by triggers on `products`, so they are current in the transaction
that writes the product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Float, Subquery, Uuid, text
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.commerce import rules

_TERM = re.compile(r"[^\W_]+")
_MAX_ALTERNATIVES = 5
_TRIGRAM_SIMILARITY = "0.2"


@dataclass(frozen=True)
class Alternative:
    term: str
    prefix: bool


Plan = list[list[Alternative]]
"""Per query word, the terms any of which it matches."""


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _begins_a_word(session: AsyncSession, word: str) -> bool:
    if _is_postgres(session):
        statement = "SELECT 1 FROM product_search_terms WHERE term LIKE :pattern LIMIT 1"
        found = await session.execute(text(statement), {"pattern": f"{word}%"})
    else:
        # fts5vocab answers range constraints on `term` from the index (UTF-8 byte order).
        statement = "SELECT 1 FROM product_search_terms WHERE term >= :low AND term < :high LIMIT 1"
        found = await session.execute(text(statement), {"low": word, "high": f"{word}\U0010ffff"})
    return found.first() is not None


async def _candidates(session: AsyncSession, word: str) -> list[str]:
    allowed = rules.typos_allowed(word)
    if allowed == 0:
        return []
    if _is_postgres(session):
        await session.execute(
            text("SELECT set_config('pg_trgm.similarity_threshold', :limit, true)"),
            {"limit": _TRIGRAM_SIMILARITY},
        )
        rows = await session.execute(
            text("SELECT term FROM product_search_terms WHERE term % :word"), {"word": word}
        )
    else:
        rows = await session.execute(
            text("SELECT term FROM product_search_terms WHERE length(term) BETWEEN :low AND :high"),
            {"low": len(word) - allowed, "high": len(word) + allowed},
        )
    return [term for (term,) in rows if _TERM.fullmatch(term)]


async def plan(session: AsyncSession, query: str) -> Plan:
    """What `query` looks for; empty when nothing in the catalog can match it."""
    found: Plan = []
    for word in rules.words(query):
        if await _begins_a_word(session, word):
            found.append([Alternative(word, prefix=True)])
            continue
        fixes = rules.corrections(word, await _candidates(session, word))
        if not fixes:
            return []
        found.append([Alternative(term, prefix=False) for term in fixes[:_MAX_ALTERNATIVES]])
    return found


def _fts5_query(found: Plan) -> str:
    return " AND ".join(
        "(" + " OR ".join(f'"{a.term}"' + ("*" if a.prefix else "") for a in group) + ")"
        for group in found
    )


def _tsquery(found: Plan) -> str:
    return " & ".join(
        "(" + " | ".join(f"'{a.term}'" + (":*" if a.prefix else "") for a in group) + ")"
        for group in found
    )


def ranked(session: AsyncSession, found: Plan) -> Subquery:
    """(product_id, score) of every product matching `found`; a higher score is a better
    match."""
    if _is_postgres(session):
        statement = text(
            "SELECT product_id, ts_rank(document, to_tsquery('simple', :q)) AS score "
            "FROM product_search WHERE document @@ to_tsquery('simple', :q)"
        ).bindparams(q=_tsquery(found))
    else:
        # The index is keyed by an integer (migration 0011 says why), mapped to the product.
        # MATERIALIZED keeps the match first: flattened into the caller's join, SQLite may
        # walk the products by status and run the MATCH once per product (37 s, not 33 ms,
        # to count 5,000 matches among 100,000).
        statement = text(
            "WITH m AS MATERIALIZED (SELECT rowid AS key, "
            "-bm25(product_search, 10, 4, 4, 1) AS score "
            "FROM product_search WHERE product_search MATCH :q) "
            "SELECT k.product_id, m.score FROM m JOIN product_search_keys k ON k.key = m.key"
        ).bindparams(q=_fts5_query(found))
    return statement.columns(product_id=Uuid, score=Float).subquery("matches")
