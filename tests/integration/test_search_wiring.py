"""The composition root gives the use cases the PostgreSQL index, and `index_all`
writes every non-draft auction's document (drafts never)."""

from __future__ import annotations

import uuid

from adapters.search.postgres import PostgresSearchIndex
from seeds import load
from seeds.search_index import index_demo
from services.search.bulk import index_all
from services.search.port import SEARCHABLE_STATUSES, SearchFilter, SearchRequest
from storage.db import make_engine
from storage.tables import Auction, Item
from tests.conftest import create_database, migrate
from tests.helpers import register


async def test_the_app_searches_postgres_and_index_all_skips_drafts(app, gql):
    deps = app.state.deps
    assert isinstance(deps.search, PostgresSearchIndex)
    word = "zyx" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    seller_id = uuid.UUID((await register(gql, seller=True)).id)
    async with deps.uow() as uow:
        rows = []
        for status in ("DRAFT", "ACTIVE"):
            item = Item(
                seller_id=seller_id,
                title=f"{word} {status}",
                description="d",
                category="home",
                condition="NEW",
            )
            uow.session.add(item)
            await uow.session.flush()
            auction = Auction(
                item_id=item.id,
                seller_id=seller_id,
                type="ENGLISH",
                status=status,
                currency="USD",
                starting_price=100,
                ends_at=deps.clock().replace(year=deps.clock().year + 1),
            )
            uow.session.add(auction)
            rows.append(auction)
        await uow.commit()
    assert await index_all(deps) >= 1
    answer = await deps.search.search(
        SearchRequest(text=word, filter=SearchFilter(statuses=SEARCHABLE_STATUSES))
    )
    assert answer.ids == [rows[1].id]


async def test_the_seeded_demo_is_searchable_with_typos(stack):
    url = await create_database(stack.database_url, f"gavel_seedsearch_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    await load(url, progress=False)
    written = await index_demo(url)
    engine = make_engine(url, pool_size=1)
    try:
        index = PostgresSearchIndex(engine)
        assert await index.count() == written > 200
        typo = await index.search(
            SearchRequest(text="Hasselbald", filter=SearchFilter(statuses=SEARCHABLE_STATUSES))
        )
        exact = await index.search(
            SearchRequest(text="Hasselblad", filter=SearchFilter(statuses=SEARCHABLE_STATUSES))
        )
        assert exact.total > 0 and typo.ids == exact.ids
    finally:
        await engine.dispose()
