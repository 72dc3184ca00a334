"""Which search index a process uses: one rule for the app, the reindex command and the
demo seeds, so they never write different indexes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.search.meilisearch import meili_index_of
from adapters.search.postgres import PostgresSearchIndex
from services.search.port import SearchIndex
from settings import Settings


def open_search_index(settings: Settings, engine: AsyncEngine) -> SearchIndex:
    """Meilisearch when `MEILI_URL` is set (docs/search.md "Meilisearch"), else the
    embedded PostgreSQL index on `engine`."""
    return meili_index_of(settings) or PostgresSearchIndex(engine)
