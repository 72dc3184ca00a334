"""The search index contract suite's fixtures: one corpus, one index per adapter.

`index` is parametrized over the adapters; each test talks to the port only
(services/search/port.py). The corpus (seeds/search_corpus.py, `CORPUS_SIZE` auctions)
lives in a database of its own, so the rest of the suite never sees it, and is built
once per session. An adapter joins the suite through `INDEX_FACTORIES`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.search.postgres import PostgresSearchIndex
from devservers.stack import StackUrls
from seeds.search_corpus import write_corpus
from services.search.documents import load_documents
from services.search.port import SearchDocument, SearchIndex
from storage.db import make_engine, make_session_factory
from tests.conftest import create_database, migrate

CORPUS_SIZE = 1200
MEILI_SKIP = "no Meilisearch server can be installed on these machines; set MEILI_URL to run"


@dataclass(frozen=True)
class Corpus:
    engine: AsyncEngine
    now: datetime  # the moment the documents were built at
    documents: list[SearchDocument]

    def by_id(self) -> dict[uuid.UUID, SearchDocument]:
        return {d.auction_id: d for d in self.documents}


@pytest.fixture(scope="session")
async def corpus(stack: StackUrls) -> AsyncIterator[Corpus]:
    url = await create_database(stack.database_url, f"gavel_search_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    engine = make_engine(url, pool_size=4)
    now = datetime.now(UTC)
    ids = await write_corpus(engine, CORPUS_SIZE, now)
    async with make_session_factory(engine)() as session:
        documents, _ = await load_documents(session, ids, now)
    yield Corpus(engine=engine, now=now, documents=documents)
    await engine.dispose()


async def postgres_index(corpus: Corpus) -> SearchIndex:
    return PostgresSearchIndex(corpus.engine)


async def meilisearch_index(corpus: Corpus) -> SearchIndex:
    pytest.skip("the Meilisearch adapter is not plugged into the contract suite yet")


# Each adapter's constructor on the corpus's servers (the Meilisearch one needs MEILI_URL).
INDEX_FACTORIES: dict[str, Callable[[Corpus], Awaitable[SearchIndex]]] = {
    "postgres": postgres_index,
    "meilisearch": meilisearch_index,
}


@pytest.fixture(scope="session", params=list(INDEX_FACTORIES))
async def index(request: pytest.FixtureRequest, corpus: Corpus) -> AsyncIterator[SearchIndex]:
    """An index holding the whole corpus."""
    if request.param == "meilisearch" and not os.environ.get("MEILI_URL"):
        pytest.skip(MEILI_SKIP)
    built = await INDEX_FACTORIES[request.param](corpus)
    await built.prepare()
    await built.upsert(corpus.documents)
    yield built
    await built.close()
