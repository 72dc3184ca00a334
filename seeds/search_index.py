"""Make the seeded demo searchable at once: every seeded auction's search document in
the index the app uses (adapters/search/choice.py: Meilisearch when MEILI_URL is set,
else the embedded PostgreSQL index; docs/search.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.search.choice import open_search_index
from services.search.bulk import index_auctions
from settings import get_settings
from storage.db import make_engine, make_session_factory
from storage.uow import UnitOfWorkFactory


async def index_demo(database_url: str) -> int:
    """Upsert the documents of every non-draft auction; returns how many."""
    engine = make_engine(database_url, pool_size=2)
    try:
        return await index_auctions(
            UnitOfWorkFactory(make_session_factory(engine)),
            open_search_index(get_settings(), engine),
            lambda: datetime.now(UTC),
        )
    finally:
        await engine.dispose()
