"""Make the seeded demo searchable at once: every seeded auction's search document in
the embedded index (docs/search.md). With MEILI_URL set, the app's reindex command
fills Meilisearch instead; this writes the PostgreSQL index only."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.search.postgres import PostgresSearchIndex
from services.search.bulk import index_auctions
from storage.db import make_engine, make_session_factory
from storage.uow import UnitOfWorkFactory


async def index_demo(database_url: str) -> int:
    """Upsert the documents of every non-draft auction; returns how many."""
    engine = make_engine(database_url, pool_size=2)
    try:
        return await index_auctions(
            UnitOfWorkFactory(make_session_factory(engine)),
            PostgresSearchIndex(engine),
            lambda: datetime.now(UTC),
        )
    finally:
        await engine.dispose()
