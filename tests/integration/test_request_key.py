"""A bid's server-side request key: the bid script applies a bid at most once, so the
slot's own retry after a lost reply (realtime/slots.py) returns the first result.

Against the real script on the real Redis; the lost reply is a real one: a TCP proxy
(tests/faultproxy.py) lets the script run and then cuts the connection instead of
delivering its answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from domain.slot_results import BidApplied, BidRefused
from realtime.slots import AuctionSlots, keys, request_key
from settings import Settings
from tests.faultproxy import FaultProxy
from tests.helpers import slot_seed

CLIENT_NAME = "gavel-request-key-test"


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(settings.redis_url or "", decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[FaultProxy]:
    target = urlsplit(settings.redis_url or "")
    assert target.hostname is not None and target.port is not None
    running = await FaultProxy(target.hostname, target.port).start()
    yield running
    await running.close()


async def slot_state(redis: aioredis.Redis, auction_id: uuid.UUID) -> tuple[int, int, int]:
    state = await redis.hgetall(keys(auction_id)[0])
    return int(state["seq"]), int(state["bids"]), await redis.xlen(keys(auction_id)[1])


async def test_the_script_applies_a_request_key_once(redis: aioredis.Redis):
    slots = AuctionSlots(redis, batch_bids=False)
    lot = slot_seed()
    await slots.create(lot)
    state, events, idem, sealed = keys(lot.auction_id)
    request = request_key(lot.auction_id)
    bidder = str(uuid.uuid4())
    call = {
        "keys": [state, events, idem, sealed, request],
        "args": [bidder, "150", "", "", "bid", "60000"],
    }

    first = await slots.scripts.bid(**call)
    again = await slots.scripts.bid(**call)

    assert again == first
    assert await slot_state(redis, lot.auction_id) == (1, 1, 1)
    assert 0 < await redis.pttl(request) <= 60_000
    # Another request key is another bid: the same bidder now raises their own lead.
    other = {**call, "keys": [state, events, idem, sealed, request_key(lot.auction_id)]}
    assert '"ok":false' in (await slots.scripts.bid(**other)).replace(" ", "")
    assert await slot_state(redis, lot.auction_id) == (1, 1, 1)


async def test_a_rejection_is_not_remembered(redis: aioredis.Redis):
    slots = AuctionSlots(redis, batch_bids=False)
    lot = slot_seed()
    await slots.create(lot)
    state, events, idem, sealed = keys(lot.auction_id)
    request = request_key(lot.auction_id)
    args = [str(uuid.uuid4()), "50", "", "", "bid", "60000"]
    result = await slots.scripts.bid(keys=[state, events, idem, sealed, request], args=args)
    assert '"reason":"BID_TOO_LOW"' in result
    assert await redis.exists(request) == 0
    assert await slot_state(redis, lot.auction_id) == (0, 0, 0)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "single"])
async def test_a_bid_whose_reply_was_lost_is_applied_once(
    redis: aioredis.Redis, proxy: FaultProxy, batched: bool
):
    client = aioredis.from_url(proxy.url, decode_responses=True)
    try:
        slots = AuctionSlots(client, batch_bids=batched)
        lot = slot_seed()
        await slots.create(lot)
        bidder = uuid.uuid4()
        proxy.lose_next_reply(str(bidder).encode())

        result = await slots.bid(lot.auction_id, bidder, 150, None, None)

        assert proxy.lost == 1  # the script ran and its answer never came back
        assert isinstance(result, BidApplied) and result.sequence == 1, result
        assert await slot_state(redis, lot.auction_id) == (1, 1, 1)
    finally:
        await client.aclose()


async def test_bids_succeed_after_every_pooled_connection_was_killed(
    redis: aioredis.Redis, settings: Settings
):
    client = aioredis.from_url(
        settings.redis_url or "", decode_responses=True, client_name=CLIENT_NAME
    )
    try:
        slots = AuctionSlots(client)
        lot = slot_seed()
        await slots.create(lot)
        bidders = [uuid.uuid4() for _ in range(8)]
        # Fill the pool with several connections, then kill every one of them.
        await asyncio.gather(*(client.ping() for _ in range(8)))
        for entry in await redis.client_list():
            if entry.get("name") == CLIENT_NAME:
                await redis.client_kill_filter(_id=entry["id"])

        results = await asyncio.gather(
            *(slots.bid(lot.auction_id, b, 100 + 10 * i, None, None) for i, b in enumerate(bidders))
        )

        assert all(isinstance(r, BidApplied | BidRefused) for r in results), results
        accepted = sum(1 for r in results if isinstance(r, BidApplied))
        assert await slot_state(redis, lot.auction_id) == (accepted, accepted, accepted)
    finally:
        await client.aclose()
