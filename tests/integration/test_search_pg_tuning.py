"""The embedded index's tuning (adapters/search/postgres.py, migration 0010): what keeps
the search's tail short on 100,000 auctions (docs/performance.md "Search (issue 16)").

Real PostgreSQL, a database of its own (a rebuild swaps the index table).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.search.postgres import PostgresSearchIndex
from seeds.search_corpus import write_corpus
from services.search.documents import load_documents
from services.search.port import SearchDocument, SearchFilter, SearchRequest, scaled_bound
from storage.db import make_engine, make_session_factory
from tests.conftest import create_database, migrate

TEXT_INDEX = "ix_search_documents_document"


async def _engine(stack, pool_size: int = 2) -> AsyncEngine:
    url = await create_database(stack.database_url, f"gavel_pgtune_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    return make_engine(url, pool_size=pool_size)


async def _options(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = :name"), {"name": TEXT_INDEX}
        )
    return list(found or [])


async def _documents(engine: AsyncEngine, count: int) -> list[SearchDocument]:
    now = datetime.now(UTC)
    ids = await write_corpus(engine, count, now)
    async with make_session_factory(engine)() as session:
        documents, _ = await load_documents(session, ids, now)
    return documents


async def test_the_text_index_has_no_pending_list_after_migration_and_after_rebuild(stack):
    """fastupdate would queue new entries in a pending list every text search scans
    until a vacuum merges it (searches 3x slower after 10,000 upserts)."""
    engine = await _engine(stack)
    try:
        assert "fastupdate=off" in await _options(engine)
        documents = await _documents(engine, 30)
        index = PostgresSearchIndex(engine)

        async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
            yield documents

        assert await index.rebuild(batches(), lambda _: None) == len(documents)
        assert "fastupdate=off" in await _options(engine)
        assert await index.count() == len(documents)
    finally:
        await engine.dispose()


async def test_a_search_plans_every_statement_for_its_own_values(stack):
    """A generic plan (bounds unknown), which PostgreSQL picks for a prepared statement
    after five runs, cost 150 ms instead of 20 ms for a price range in a small
    category. One connection, so every run reuses the same prepared statements."""
    engine = await _engine(stack, pool_size=1)
    try:
        index = PostgresSearchIndex(engine)
        await index.upsert(await _documents(engine, 60))
        request = SearchRequest(
            "vintage camera",
            SearchFilter(
                min_price_scaled=scaled_bound(Decimal(1), upper=False),
                max_price_scaled=scaled_bound(Decimal(100_000), upper=True),
            ),
            facets=True,
        )
        for _ in range(12):
            await index.search(request)
        async with engine.connect() as conn:
            prepared = (
                await conn.execute(
                    text(
                        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                    )
                )
            ).all()
        plans = [(s.split()[:3], g, c) for s, g, c in prepared if "FROM search_documents" in s]
        assert plans, "the search's statements are prepared on this connection"
        assert all(generic == 0 for _, generic, _ in plans), plans
        assert max(custom for _, _, custom in plans) >= 12
    finally:
        await engine.dispose()
