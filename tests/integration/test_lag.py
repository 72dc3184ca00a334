"""The scrape-time lag readings (realtime/lag.py) against a real Redis: events appended
and not yet acknowledged by the persister's group, their age, and overdue closes. A
database of its own keeps the running app's persister and closer away from them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from devservers.stack import StackUrls
from domain.slot_results import BidApplied
from gavel_app import lag_readings
from realtime.lag import CloserLag, OutboxLag, closer_lag, outbox_lag
from realtime.outbox_stream import GROUP
from realtime.slots import ENDS_ZSET, AuctionSlots, SlotSeed, keys


@pytest.fixture
async def redis(stack: StackUrls) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(stack.redis_url.rstrip("/") + "/7", decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


def seed(ends_in: timedelta) -> SlotSeed:
    now = datetime.now(UTC)
    return SlotSeed(
        auction_id=uuid.uuid4(),
        type="ENGLISH",
        currency="USD",
        seller_id=uuid.uuid4(),
        starting_price=100,
        reserve_price=None,
        buy_now_price=None,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + ends_in,
        hard_close_at=None,
        soft_close_window_seconds=None,
        soft_close_extension_seconds=None,
        dutch_step=None,
        dutch_step_seconds=None,
        dutch_floor=None,
        activated_at=now - timedelta(minutes=1),
        item_id=uuid.uuid4(),
    )


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_outbox_lag_counts_unpersisted_events_and_ages_the_oldest(redis):
    slots = AuctionSlots(redis)
    quiet, busy = seed(timedelta(hours=1)), seed(timedelta(hours=1))
    for s in (quiet, busy):
        await slots.create(s)
    assert await outbox_lag(redis, now_ms=now_ms(), limit=10) == OutboxLag(0, 0.0, 2, False)

    placed = []
    for amount in (100, 200, 300):
        result = await slots.bid(busy.auction_id, uuid.uuid4(), amount, None, None)
        assert isinstance(result, BidApplied), result
        placed.append(result.at_ms)
    first_at = placed[0]
    lag = await outbox_lag(redis, now_ms=first_at + 5_000, limit=10)
    assert lag.pending == 3  # appended, not yet delivered to the group
    assert lag.oldest_seconds == 5.0

    # Delivered to a consumer but not acknowledged: still pending, same oldest.
    stream = keys(busy.auction_id)[1]
    read = await redis.xreadgroup(GROUP, "metrics-test", {stream: ">"}, count=2)
    assert len(read[0][1]) == 2
    again = await outbox_lag(redis, now_ms=first_at + 5_000, limit=10)
    assert again.pending == 3
    assert again.oldest_seconds == lag.oldest_seconds

    # Acknowledged (persisted): only the undelivered third remains.
    await redis.xack(stream, GROUP, *[eid for eid, _ in read[0][1]])
    rest = await outbox_lag(redis, now_ms=first_at + 5_000, limit=10)
    assert rest.pending == 1
    assert rest.oldest_seconds == (first_at + 5_000 - placed[2]) / 1000

    # The read is bounded: one auction of two, and it says so.
    assert (await outbox_lag(redis, now_ms=now_ms(), limit=1)).truncated


async def test_closer_lag_is_the_oldest_end_already_past(redis):
    slots = AuctionSlots(redis)
    assert await closer_lag(redis, now_ms=now_ms()) == CloserLag(0, 0.0)
    await slots.create(seed(timedelta(hours=1)))
    assert await closer_lag(redis, now_ms=now_ms()) == CloserLag(0, 0.0)
    late = now_ms()
    await redis.zadd(ENDS_ZSET, {"a": late - 30_000, "b": late - 10_000})
    lag = await closer_lag(redis, now_ms=late)
    assert lag.overdue == 2
    assert lag.seconds == 30.0


async def test_a_redis_that_does_not_answer_costs_the_scrape_its_lag_not_its_time(settings):
    """A server that accepts and never replies (a hung Redis): the readings give up at
    the scrape timeout and say so."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client leaves
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = aioredis.from_url(f"redis://127.0.0.1:{port}", decode_responses=True)
    quick = settings.model_copy(update={"metrics_scrape_timeout_seconds": 0.3})
    try:
        started = time.monotonic()
        readings = await lag_readings(hung, quick)
        assert time.monotonic() - started < 2
    finally:
        await hung.aclose()
        server.close()
    assert [(r.name, r.value) for r in readings] == [("gavel_lag_scrape_success", 0)]
