"""The category feed's source (realtime/auction_feed.py) on the real PostgreSQL: a
subscriber that falls behind is cut off (SLOW_CONSUMER) while others keep going, an
event's auction is read once however many subscribers want it, and ENDING_SOON is
announced once per auction even when two ending-soon passes run at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from realtime.auction_feed import CHANNEL, AuctionFeed, FeedClosed
from realtime.notification_feed import plain_dsn
from services import catalog
from services.notifications.ending_soon import notify_ending_soon
from settings import Settings
from tests.helpers import live_english_auction
from tests.integration.test_concurrency import _users


async def test_a_slow_subscriber_is_cut_off_and_each_auction_read_once(
    app: FastAPI, settings: Settings
):
    deps = app.state.deps
    seller = (await _users(app, 1))[0]
    auction = await live_english_auction(app, seller)
    reads: list[uuid.UUID] = []

    async def load(auction_id: uuid.UUID) -> Any:
        reads.append(auction_id)
        return await catalog.get_auction(deps, None, auction_id)

    dsn = plain_dsn(settings.database_url or "")
    source = AuctionFeed(dsn, load, queue_size=2)
    running = asyncio.create_task(source.run())
    pg = await asyncpg.connect(dsn)
    try:
        await asyncio.wait_for(source.listening.wait(), 10)
        with (
            source.subscribe(frozenset({"collectibles"})) as slow,
            source.subscribe(None) as keeping_up,
            source.subscribe(frozenset({"cameras"})) as elsewhere,
        ):
            for _ in range(3):
                await pg.execute(
                    "SELECT pg_notify($1, $2)", CHANNEL, f"{auction.id}:collectibles:PUBLISHED"
                )
                event, row = await asyncio.wait_for(keeping_up.next(), 5)
                assert (event.auction_id, event.kind, row.id) == (
                    auction.id,
                    "PUBLISHED",
                    auction.id,
                )
            with pytest.raises(FeedClosed) as cut_off:
                await asyncio.wait_for(slow.next(), 5)
            assert cut_off.value.slow
            assert source.subscribers == 2  # the slow one is gone, the others stay
            assert elsewhere._queue.empty()
        assert reads == [auction.id] * 3  # once per event, not once per subscriber
    finally:
        await pg.close()
        source.stop()
        await asyncio.wait_for(running, 10)


async def test_ending_soon_is_announced_once_by_passes_at_once(app: FastAPI, settings: Settings):
    deps = app.state.deps
    seller = (await _users(app, 1))[0]
    dsn = plain_dsn(settings.database_url or "")
    heard: list[str] = []
    pg = await asyncpg.connect(dsn)
    await pg.add_listener(CHANNEL, lambda _c, _p, _ch, payload: heard.append(payload))
    try:
        auction = await live_english_auction(app, seller, ends_in=timedelta(minutes=5))
        lead = timedelta(minutes=15)
        await asyncio.gather(*(notify_ending_soon(deps, lead) for _ in range(4)))
        await notify_ending_soon(deps, lead)
        await asyncio.sleep(0.5)  # NOTIFY is delivered after the commit, asynchronously
        mine = [p for p in heard if p.startswith(str(auction.id))]
        assert mine == [
            f"{auction.id}:collectibles:PUBLISHED",
            f"{auction.id}:collectibles:ENDING_SOON",
        ]
    finally:
        await pg.close()
