"""Saved-search matching against the real search index (the app's PostgreSQL adapter):
a listing published after a search was saved notifies its owner once per saved search,
never the seller, never for a search saved afterwards, never a draft, once even when two
matchers run at once or a pass is redone; and a listing waits until it is indexed.

The tests put each listing's document in the index themselves (as the freshness indexer
does, services/search/indexer.py) before matching it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from services.search.documents import load_documents
from services.search.saved_search_matcher import SavedSearchMatcher, dedupe_key
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, Account, create_auction, register

SAVE = """
mutation($input: SaveSearchInput!) {
  saveSearch(input: $input) { savedSearch { id } errors { code } }
}"""


async def _save(gql: GQL, account: Account, query: str | None, **filter: Any) -> str:
    body = await gql(
        SAVE, {"input": {"name": "wanted", "query": query, "filter": filter}}, token=account.token
    )
    payload = body["data"]["saveSearch"]
    assert payload["errors"] == [], payload
    saved_id: str = payload["savedSearch"]["id"]
    return saved_id


async def _listing(gql: GQL, seller: Account, *, publish: bool = True, **fields: Any) -> str:
    auction = await create_auction(gql, seller, **fields)
    if publish:
        body = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
        assert body["data"]["publishAuction"]["errors"] == [], body
    auction_id: str = auction["id"]
    return auction_id


async def _index(app: FastAPI, auction_id: str) -> None:
    deps = app.state.deps
    async with deps.uow() as uow:
        documents, _ = await load_documents(uow.session, [uuid.UUID(auction_id)], deps.clock())
    await deps.search.upsert(documents)


async def _queued(app: FastAPI, auction_id: str) -> bool:
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT 1 FROM saved_search_queue WHERE auction_id = :a"),
            {"a": uuid.UUID(auction_id)},
        )
        return found.first() is not None


async def _matched(
    app: FastAPI, auction_id: str, *, matcher: SavedSearchMatcher | None = None
) -> None:
    """Run matching until the listing has left the queue (other tests' listings may be
    ahead of it; the app's own matcher may take it too)."""
    matcher = matcher or SavedSearchMatcher(app.state.deps, interval=1, index_delay=0)
    deadline = time.monotonic() + 20
    while await _queued(app, auction_id):
        assert time.monotonic() < deadline, "the listing was never matched"
        if not await matcher.match_once():
            await asyncio.sleep(0.05)


async def _matches(app: FastAPI, account: Account) -> list[tuple[str, str]]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT auction_id, dedupe_key FROM notifications"
                " WHERE user_id = :u AND kind = 'SAVED_SEARCH_MATCH' ORDER BY seq"
            ),
            {"u": uuid.UUID(account.id)},
        )
        return [(str(r[0]), r[1]) for r in rows.all()]


async def test_a_matching_listing_notifies_each_saved_search_once(gql: GQL, app: FastAPI):
    seller = await register(gql, seller=True)
    alice, bob, carol = await register(gql), await register(gql), await register(gql)
    by_words = await _save(gql, alice, "walnut turntable", category="music")
    by_typo = await _save(gql, alice, "walnut turntabel")  # one typo is forgiven
    await _save(gql, bob, "walnut turntable", category="cameras")  # another category
    await _save(gql, carol, "walnut turntable", maxPrice="50")  # price above her bound
    auction_id = await _listing(
        gql,
        seller,
        title="Walnut turntable, Thorens TD 160",
        description="Belt drive record player in a walnut plinth.",
        category="music/equipment",
        startingPrice="120.00",
    )
    await _index(app, auction_id)
    await _matched(app, auction_id)

    assert sorted(await _matches(app, alice)) == sorted(
        [(auction_id, dedupe_key(uuid.UUID(s), uuid.UUID(auction_id))) for s in (by_words, by_typo)]
    )
    assert await _matches(app, bob) == []
    assert await _matches(app, carol) == []
    assert await _matches(app, seller) == []

    # A pass redone (a crash after notifying, before the queue row went) tells no one twice.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO saved_search_queue (auction_id, published_at)"
                " SELECT id, published_at FROM auctions WHERE id = :a"
            ),
            {"a": uuid.UUID(auction_id)},
        )
    await _matched(app, auction_id)
    assert len(await _matches(app, alice)) == 2


async def test_never_the_sellers_own_listing_nor_a_search_saved_afterwards(gql: GQL, app: FastAPI):
    seller = await register(gql, seller=True)
    late = await register(gql)
    await _save(gql, seller, "brass sextant")
    auction_id = await _listing(
        gql, seller, title="Brass sextant with case", category="antiques/maps"
    )
    await _save(gql, late, "brass sextant")  # saved after the listing was published
    await _index(app, auction_id)
    await _matched(app, auction_id)
    assert await _matches(app, seller) == []
    assert await _matches(app, late) == []


async def test_a_draft_is_never_queued_nor_matched(gql: GQL, app: FastAPI):
    seller = await register(gql, seller=True)
    alice = await register(gql)
    await _save(gql, alice, "porcelain teapot")
    draft = await _listing(gql, seller, publish=False, title="Porcelain teapot", category="home")
    assert not await _queued(app, draft)
    body = await gql(PUBLISH, {"id": draft}, token=seller.token)
    assert body["data"]["publishAuction"]["errors"] == []
    assert await _queued(app, draft)  # queued by the publishing transaction itself
    await _index(app, draft)
    await _matched(app, draft)
    assert [a for a, _ in await _matches(app, alice)] == [draft]


async def test_two_matchers_at_once_notify_once(gql: GQL, app: FastAPI):
    seller = await register(gql, seller=True)
    watchers = [await register(gql) for _ in range(5)]
    for account in watchers:
        await _save(gql, account, "copper kettle")
    auction_id = await _listing(gql, seller, title="Copper kettle, hand hammered", category="home")
    await _index(app, auction_id)
    deps = app.state.deps
    first, second = (SavedSearchMatcher(deps, interval=1, index_delay=0) for _ in range(2))
    await asyncio.gather(
        _matched(app, auction_id, matcher=first), _matched(app, auction_id, matcher=second)
    )
    for account in watchers:
        assert [a for a, _ in await _matches(app, account)] == [auction_id]


async def test_a_listing_waits_until_it_is_indexed(gql: GQL, app: FastAPI):
    seller = await register(gql, seller=True)
    alice = await register(gql)
    await _save(gql, alice, "mahogany chessboard")
    engine = app.state.engine
    draft = await create_auction(gql, seller, title="Mahogany chessboard", category="collectibles")
    auction_id = uuid.UUID(draft["id"])
    async with engine.connect() as conn:
        with_queue = (await conn.execute(text("SELECT to_regclass('search_pending')"))).scalar()
    holder = await engine.connect()
    try:
        if with_queue is not None:
            # The indexer's queue: the listing stays in it, locked, so no indexer takes it
            # (they claim FOR UPDATE SKIP LOCKED) while the matcher still sees it waiting.
            # FOR KEY SHARE, not FOR UPDATE: the publish's change-capture trigger updates
            # the queued row (a no-key update) and must not wait for this lock.
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO search_pending (auction_id, queued_at)"
                        " VALUES (:a, now()) ON CONFLICT DO NOTHING"
                    ),
                    {"a": auction_id},
                )
            await holder.begin()
            await holder.execute(
                text("SELECT 1 FROM search_pending WHERE auction_id = :a FOR KEY SHARE"),
                {"a": auction_id},
            )
            waiting = SavedSearchMatcher(app.state.deps, interval=1, index_delay=0)
        else:  # no indexer's queue: matched only `index_delay` after publishing
            waiting = SavedSearchMatcher(app.state.deps, interval=1, index_delay=30)
        body = await gql(PUBLISH, {"id": str(auction_id)}, token=seller.token)
        assert body["data"]["publishAuction"]["errors"] == [], body
        for _ in range(3):
            await waiting.match_once()
        assert await _queued(app, str(auction_id))
        assert await _matches(app, alice) == []
        if with_queue is not None:
            await holder.execute(
                text("DELETE FROM search_pending WHERE auction_id = :a"), {"a": auction_id}
            )
            await holder.commit()
    finally:
        await holder.close()
    await _index(app, str(auction_id))
    await _matched(app, str(auction_id))
    assert [a for a, _ in await _matches(app, alice)] == [str(auction_id)]


async def test_a_sealed_auctions_hidden_bid_never_decides_a_match(gql: GQL, app: FastAPI):
    seller = await register(gql, seller=True)
    bidder, high, low = await register(gql), await register(gql), await register(gql)
    await _save(gql, high, "sealed barometer", minPrice="500")
    await _save(gql, low, "sealed barometer", maxPrice="150")
    auction_id = await _listing(
        gql,
        seller,
        title="Sealed barometer, aneroid",
        category="antiques/clocks",
        type="SEALED_FIRST_PRICE",
        startingPrice="100.00",
    )
    await _index(app, auction_id)
    body = await gql(BID, {"id": auction_id, "amount": "1000"}, token=bidder.token)
    assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
    deadline = time.monotonic() + 10
    while True:  # the bid reaches PostgreSQL (the persister), then the index
        async with app.state.engine.connect() as conn:
            count = (
                await conn.execute(
                    text("SELECT bid_count FROM auctions WHERE id = :a"),
                    {"a": uuid.UUID(auction_id)},
                )
            ).scalar()
        if count == 1:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await _index(app, auction_id)
    await _matched(app, auction_id)
    # Only the public starting price counts: 1000 would have matched `high`, not `low`.
    assert await _matches(app, high) == []
    assert [a for a, _ in await _matches(app, low)] == [auction_id]
