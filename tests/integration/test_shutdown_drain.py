"""Shutdown against the real Redis and PostgreSQL: the persister's final drain writes what
its consumer read but never acknowledged (a pass cut short), and closed feeds end every
subscriber with SHUTTING_DOWN and where to resume, and refuse new ones.

The whole sequence under a real uvicorn and SIGTERM is tests/e2e/test_graceful_shutdown.py.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from realtime.feed import AuctionFeeds, auction_events
from realtime.persister import Persister
from realtime.stream import EventSource, ServerShuttingDown
from services import bidding
from storage.tables import User
from tests.helpers import live_english_auction
from tests.integration.test_concurrency import _users


async def _bid(app: FastAPI, bidder: User, auction_id: uuid.UUID, amount: str) -> int:
    result = await bidding.place_bid(
        app.state.deps, bidder, auction_id, Decimal(amount), None, None
    )
    assert isinstance(result, bidding.Accepted), result
    return int(result.bid.sequence)


async def _stored(app: FastAPI, auction_id: uuid.UUID) -> list[int]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT sequence FROM bids WHERE auction_id = :a ORDER BY sequence"),
            {"a": auction_id},
        )
        return [r[0] for r in rows]


async def test_the_final_drain_writes_entries_read_but_never_acknowledged(app: FastAPI):
    seller, alice, bob = await _users(app, 3)
    auction = await live_english_auction(app, seller)
    running: Persister = app.state.persister
    # A second consumer of the same group, as another process's persister would be.
    stopping = Persister(app.state.redis, app.state.slots, app.state.deps.uow)
    async with running._lock:  # the app's own persister waits: only `stopping` reads
        sequences = [await _bid(app, alice, auction.id, "2"), await _bid(app, bob, auction.id, "3")]
        # A pass cut short: the entries are delivered to `stopping`, never acknowledged.
        read = await stopping.streams.read([str(auction.id)], reclaim=False)
        assert [len(entries) for _, entries in read] == [2]
        assert await stopping.drain([str(auction.id)]) == 0  # ">" no longer sees them
        assert await _stored(app, auction.id) == []
        assert await stopping.flush() >= 2
        assert await _stored(app, auction.id) == sequences
        # Acknowledged: nothing of it is left (other auctions may be closing meanwhile).
        assert await stopping.drain([str(auction.id)], own_pending=True) == 0


async def test_closed_feeds_end_subscribers_with_where_to_resume(app: FastAPI):
    deps = app.state.deps
    seller, alice, bob = await _users(app, 3)
    auction = await live_english_auction(app, seller)
    feeds = AuctionFeeds(EventSource(deps.slots, deps.uow, app.state.bus))
    for amount in ("2", "3", "4"):
        await _bid(app, alice, auction.id, amount)
    live = auction_events(feeds.source, auction, None, feeds=feeds)  # from now on
    replaying = auction_events(feeds.source, auction, 0, feeds=feeds)  # from the start
    try:
        first_live = asyncio.ensure_future(anext(live))
        assert (await asyncio.wait_for(anext(replaying), 10)).sequence == 1
        await asyncio.sleep(0.1)  # `live` joined the feed
        seq = await _bid(app, bob, auction.id, "5")
        assert (await asyncio.wait_for(first_live, 10)).sequence == seq

        feeds.close()
        with pytest.raises(ServerShuttingDown) as ended:
            await asyncio.wait_for(anext(live), 10)
        assert ended.value.code == "SHUTTING_DOWN"
        assert f"sinceSequence: {seq}" in ended.value.message
        # A subscriber still replaying stops there and says how far it got.
        with pytest.raises(ServerShuttingDown) as cut:
            await asyncio.wait_for(anext(replaying), 10)
        assert "sinceSequence: 1" in cut.value.message
        # A new subscriber is refused.
        late = auction_events(feeds.source, auction, 2, feeds=feeds)
        with pytest.raises(ServerShuttingDown) as refused:
            await asyncio.wait_for(anext(late), 10)
        assert "the same sinceSequence" in refused.value.message
        await asyncio.sleep(0)
        assert feeds.members == set() and all(f.ended for f in feeds.feeds.values())
    finally:
        await live.aclose()
        await replaying.aclose()
